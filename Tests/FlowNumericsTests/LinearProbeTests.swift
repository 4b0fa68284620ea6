import Foundation
import Testing
import FlowNumerics
import FlowTestSupport

/// The linear probe: gradient against finite differences, separable data, random labels, errors.
@Suite(.serialized) struct LinearProbeTests {
    /// `perClass` rows per class around random centres (spread `noise`), and their labels.
    func clusters(classes: Int, dim: Int, perClass: Int, noise: Float, centres: [[Float]],
                  _ rng: inout SeededGenerator) throws -> (Matrix, [Int]) {
        var rows: [[Float]] = [], labels: [Int] = []
        for i in 0..<(classes * perClass) {
            let c = i % classes
            rows.append(centres[c].map { $0 + noise * Float.random(in: -1...1, using: &rng) })
            labels.append(c)
        }
        return (try Matrix(rows), labels)
    }

    func centres(_ classes: Int, _ dim: Int, _ rng: inout SeededGenerator) -> [[Float]] {
        (0..<classes).map { _ in (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) } }
    }

    /// Mean cross-entropy in Double.
    func loss(_ w: [Double], _ b: [Double], _ x: Matrix, _ y: [Int], classes: Int) -> Double {
        var total = 0.0
        for r in 0..<x.rows {
            let z = (0..<classes).map { c in b[c] + (0..<x.cols).reduce(0.0) { $0 + w[c * x.cols + $1] * Double(x[r, $1]) } }
            let m = z.max()!
            total += m + log(z.reduce(0.0) { $0 + exp($1 - m) }) - z[y[r]]
        }
        return total / Double(x.rows)
    }

    @Test func firstStepFollowsTheCrossEntropyGradient() throws {
        var rng = SeededGenerator(seed: 5)
        let (x, y) = try clusters(classes: 3, dim: 4, perClass: 4, noise: 0.5, centres: centres(3, 4, &rng), &rng)
        // One full-batch step: w1 = w0 − lr · ∇L(w0) (momentum buffer = gradient, cosine factor 1).
        var s = LinearProbeSettings(learningRate: 1e-30, iterations: 1, batchSize: x.rows, seed: 9)
        let w0 = try LinearProbe.train(features: x, labels: y, classes: 3, settings: s)
        s.learningRate = 0.5
        let w1 = try LinearProbe.train(features: x, labels: y, classes: 3, settings: s)
        let init0 = w0.weights.data.map(Double.init), bias0 = w0.bias.map(Double.init)
        #expect(bias0.allSatisfy { abs($0) < 1e-20 })  // 0 plus 1e-30 · gradient
        let std = (init0.reduce(0) { $0 + $1 * $1 } / Double(init0.count)).squareRoot()
        #expect(std > 0.003 && std < 0.03)  // N(0, 0.01) init
        let h = 1e-5
        for i in init0.indices {
            var plus = init0, minus = init0
            plus[i] += h; minus[i] -= h
            let fd = (loss(plus, bias0, x, y, classes: 3) - loss(minus, bias0, x, y, classes: 3)) / (2 * h)
            let step = (init0[i] - Double(w1.weights.data[i])) / 0.5
            #expect(abs(fd - step) < 1e-4, "weight \(i): finite difference \(fd), step \(step)")
        }
        for c in 0..<3 {
            var plus = bias0, minus = bias0
            plus[c] += h; minus[c] -= h
            let fd = (loss(init0, plus, x, y, classes: 3) - loss(init0, minus, x, y, classes: 3)) / (2 * h)
            #expect(abs(fd - (-Double(w1.bias[c]) / 0.5)) < 1e-4, "bias \(c)")
        }
    }

    @Test func separatesLinearlySeparableFeatures() throws {
        var rng = SeededGenerator(seed: 21)
        let k = centres(6, 12, &rng)
        let (x, y) = try clusters(classes: 6, dim: 12, perClass: 40, noise: 0.3, centres: k, &rng)
        let (vx, vy) = try clusters(classes: 6, dim: 12, perClass: 20, noise: 0.3, centres: k, &rng)
        let s = LinearProbeSettings(learningRate: 0, iterations: 300, batchSize: 32, seed: 1)
        let r = try LinearProbe.evaluate(train: x, trainLabels: y, val: vx, valLabels: vy,
                                         learningRates: [0.001, 0.1, 1], holdout: 0.2, settings: s)
        #expect(r.holdoutCount == 48 && r.fitCount == 192)
        #expect(r.classes == 6)
        #expect(r.trials.count == 3)
        #expect(r.val.top1 > 0.95, "val top-1 \(r.val.top1)")
        #expect(r.val.top5 == 1 || (r.val.top5 ?? 0) > 0.99)
        // The tiny rate barely moves from the init: it must not be the one chosen.
        #expect(r.chosenLearningRate != 0.001)
        let again = try LinearProbe.evaluate(train: x, trainLabels: y, val: vx, valLabels: vy,
                                             learningRates: [0.001, 0.1, 1], holdout: 0.2, settings: s)
        #expect(again.classifier == r.classifier)  // deterministic for a seed
    }

    @Test func randomLabelsGiveChance() throws {
        var rng = SeededGenerator(seed: 8)
        let x = try Matrix((0..<200).map { _ in (0..<10).map { _ in Float.random(in: -1...1, using: &rng) } })
        let vx = try Matrix((0..<400).map { _ in (0..<10).map { _ in Float.random(in: -1...1, using: &rng) } })
        let y = (0..<200).map { _ in Int.random(in: 0..<4, using: &rng) }
        let vy = (0..<400).map { _ in Int.random(in: 0..<4, using: &rng) }
        let s = LinearProbeSettings(learningRate: 0, iterations: 200, batchSize: 32, seed: 2)
        let r = try LinearProbe.evaluate(train: x, trainLabels: y, val: vx, valLabels: vy,
                                         learningRates: [0.01, 0.1], holdout: 0.25, settings: s)
        // Chance is 0.25; 400 samples give a standard deviation of about 0.022.
        #expect(r.val.top1 > 0.15 && r.val.top1 < 0.35, "val top-1 \(r.val.top1)")
        #expect(r.val.top5 == nil)
    }

    @Test func holdoutSplitIsADeterministicPartition() {
        let (fit, held) = LinearProbe.holdoutSplit(count: 50, fraction: 0.2, seed: 3)
        #expect(held.count == 10 && fit.count == 40)
        #expect(Set(fit + held) == Set(0..<50))
        #expect(LinearProbe.holdoutSplit(count: 50, fraction: 0.2, seed: 3).holdout == held)
        #expect(LinearProbe.holdoutSplit(count: 50, fraction: 0.2, seed: 4).holdout != held)
        #expect(LinearProbe.holdoutSplit(count: 3, fraction: 0.01, seed: 3).holdout.count == 1)
        #expect(LinearProbe.holdoutSplit(count: 1, fraction: 0.5, seed: 3).holdout.isEmpty)
    }

    @Test func badInputsAreClearErrors() throws {
        let x = try Matrix([[1, 0], [0, 1], [1, 1]]), y = [0, 1, 1]
        let s = LinearProbeSettings(learningRate: 0.1, iterations: 5, batchSize: 2, seed: 0)
        #expect(throws: NumericsError("2 learning rates to compare but no held-out train rows: raise the holdout fraction or give one rate")) {
            try LinearProbe.evaluate(train: x, trainLabels: y, val: x, valLabels: y, learningRates: [0.1, 1], holdout: 0, settings: s)
        }
        #expect(throws: NumericsError("the learning-rate grid is empty")) {
            try LinearProbe.evaluate(train: x, trainLabels: y, val: x, valLabels: y, learningRates: [], holdout: 0.2, settings: s)
        }
        #expect(throws: NumericsError("train features have dimension 2 but val features have 1")) {
            try LinearProbe.evaluate(train: x, trainLabels: y, val: try Matrix([[1]]), valLabels: [0], learningRates: [0.1],
                                     holdout: 0.2, settings: s)
        }
        // Large features and an absurd rate overflow the weights to infinity, then NaN.
        var big = x
        for i in big.data.indices { big.data[i] *= 1000 }
        #expect(throws: NumericsError("training diverged at every learning rate ([1e+37]): use smaller rates")) {
            try LinearProbe.evaluate(train: big, trainLabels: y, val: big, valLabels: y, learningRates: [1e37], holdout: 0.4, settings: s)
        }
    }
}
