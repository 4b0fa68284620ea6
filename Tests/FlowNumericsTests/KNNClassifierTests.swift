import Foundation
import Testing
import FlowNumerics
import FlowTestSupport

/// Weighted k-NN (DINOv2 knn.py) against hand-made cases, planted clusters and brute force.
@Suite(.serialized) struct KNNClassifierTests {
    /// Unit vectors at `degrees` on the circle.
    func circle(_ degrees: [Double]) throws -> Matrix {
        try Matrix(degrees.map { [Float(cos($0 * .pi / 180)), Float(sin($0 * .pi / 180))] })
    }

    @Test func votesChangeWithK() throws {
        // Query at 0°: class 0 at 1° and 2°, class 1 at 3°, 4°, 5°; class 2 far away at 90°.
        let train = try circle([3, 1, 90, 4, 2, 5])
        let labels = [1, 0, 2, 1, 0, 1]
        let query = try circle([0])
        let r = try KNNClassifier.evaluate(train: train, trainLabels: labels, queries: query, queryLabels: [1],
                                           ks: [1, 2, 5, 6], temperature: 0.07)
        #expect(r.neighbors == 6)
        #expect(r.classes == 3)
        #expect(r.predictions.map { $0[0] } == [0, 0, 1, 1])
        #expect(r.accuracies.map(\.correctTop1) == [0, 0, 1, 1])
        #expect(r.accuracies.allSatisfy { $0.correctTop5 == nil })  // 3 classes: no top-5
        // A sharp temperature lets the 2 nearest (class 0) outvote the 3 farther ones:
        // weights exp(cos θ / T) differ by e^(−0.23 … −1.8) per neighbour at T = 0.002.
        let sharp = try KNNClassifier.evaluate(train: train, trainLabels: labels, queries: query, queryLabels: [1],
                                               ks: [1, 2, 5, 6], temperature: 0.002)
        #expect(sharp.predictions.map { $0[0] } == [0, 0, 0, 0])
        #expect(sharp.accuracies.map(\.correctTop1) == [0, 0, 0, 0])
    }

    @Test func plantedClustersGiveTheDesignedAccuracy() throws {
        var rng = SeededGenerator(seed: 11)
        let classes = 8, dim = 16, perTrain = 20, perVal = 10
        let centres = (0..<classes).map { _ in (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) } }
        func point(_ c: Int) -> [Float] { centres[c].map { $0 + Float.random(in: -0.05...0.05, using: &rng) } }
        var trainRows: [[Float]] = [], trainLabels: [Int] = []
        for c in 0..<classes { for _ in 0..<perTrain { trainRows.append(point(c)); trainLabels.append(c) } }
        var valRows: [[Float]] = [], valLabels: [Int] = []
        for c in 0..<classes { for _ in 0..<perVal { valRows.append(point(c)); valLabels.append(c) } }
        // Mislabel 7 val samples: exactly those must be wrong.
        for i in [0, 13, 27, 40, 41, 66, 79] { valLabels[i] = (valLabels[i] + 3) % classes }
        let r = try KNNClassifier.evaluate(train: try Matrix(trainRows), trainLabels: trainLabels,
                                           queries: try Matrix(valRows), queryLabels: valLabels,
                                           ks: [10, 20, 100, 200], temperature: 0.07)
        #expect(r.neighbors == 160)  // clamped to the training set
        #expect(r.accuracies.map(\.k) == [10, 20, 100, 160])
        for a in r.accuracies {
            #expect(a.correctTop1 == 73 && a.total == 80, "k=\(a.k)")
            #expect((a.correctTop5 ?? 0) >= a.correctTop1)
        }
        #expect(abs(r.accuracies[0].top1 - 73.0 / 80.0) < 1e-12)

        // Overlapping clusters: the temperature decides many votes. Predictions equal a plain
        // Double computation of softmax(sim / T)-weighted votes at each T, and differ between T.
        func noisy(_ c: Int) -> [Float] { centres[c].map { $0 + Float.random(in: -1.2...1.2, using: &rng) } }
        let tx = try Matrix((0..<(classes * perTrain)).map { noisy($0 / perTrain) })
        let ty = (0..<(classes * perTrain)).map { $0 / perTrain }
        let vx = try Matrix((0..<(classes * perVal)).map { noisy($0 / perVal) })
        let vy = (0..<(classes * perVal)).map { $0 / perVal }
        var byTemperature: [[Int]] = []
        for t in [0.01, 1.0] {
            let e = try KNNClassifier.evaluate(train: tx, trainLabels: ty, queries: vx, queryLabels: vy, ks: [40], temperature: Float(t))
            #expect(e.predictions[0] == Self.plainWeightedVotes(tx, ty, vx, k: 40, temperature: t), "T = \(t)")
            byTemperature.append(e.predictions[0])
        }
        #expect(byTemperature[0] != byTemperature[1])
    }

    /// DINOv2's weighted k-NN written plainly in Double: the k most cosine-similar rows, weights
    /// exp(sim / T), the class of the largest sum (ties: the lower class).
    static func plainWeightedVotes(_ train: Matrix, _ labels: [Int], _ queries: Matrix, k: Int, temperature: Double) -> [Int] {
        func unit(_ v: [Float]) -> [Double] {
            let n = v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            return v.map { Double($0) / n }
        }
        let t = (0..<train.rows).map { unit(train.row($0)) }
        let classes = labels.max()! + 1
        return (0..<queries.rows).map { qi in
            let q = unit(queries.row(qi))
            let sims = t.map { zip($0, q).reduce(0.0) { $0 + $1.0 * $1.1 } }
            let order = sims.indices.sorted { sims[$0] > sims[$1] || (sims[$0] == sims[$1] && $0 < $1) }
            var votes = [Double](repeating: 0, count: classes)
            for j in order.prefix(k) { votes[labels[j]] += exp((sims[j] - sims[order[0]]) / temperature) }
            return votes.indices.max { votes[$0] < votes[$1] || (votes[$0] == votes[$1] && $0 > $1) }!
        }
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func softmaxVotingEqualsBruteForce(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let classes = 7, n = 60, q = 15, dim = 6
        let train = try Matrix((0..<n).map { _ in (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) } })
        let queries = try Matrix((0..<q).map { _ in (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) } })
        let labels = (0..<n).map { _ in Int.random(in: 0..<classes, using: &rng) }
        let qLabels = (0..<q).map { _ in Int.random(in: 0..<classes, using: &rng) }
        let ks = [20, 3, 10], t = 0.1
        let r = try KNNClassifier.evaluate(train: train, trainLabels: labels, queries: queries, queryLabels: qLabels,
                                           ks: ks, temperature: Float(t))
        var want1 = [0, 0, 0], want5 = [0, 0, 0]
        for i in 0..<q {
            // Brute force in Double: all similarities, sorted, the top 20, softmax, sums.
            let sims = (0..<n).map { j in cosine(queries.row(i), train.row(j)) }
            let order = sims.indices.sorted { sims[$0] > sims[$1] || (sims[$0] == sims[$1] && $0 < $1) }.prefix(20)
            let e = order.map { exp(sims[$0] / t) }
            let z = e.reduce(0, +)
            for (ki, k) in ks.enumerated() {
                var score = [Double](repeating: 0, count: classes)
                for (rank, j) in order.prefix(k).enumerated() { score[labels[j]] += e[rank] / z }
                let ranked = score.indices.sorted { score[$0] > score[$1] || (score[$0] == score[$1] && $0 < $1) }
                #expect(r.predictions[ki][i] == ranked[0], "query \(i), k \(k)")
                if ranked[0] == qLabels[i] { want1[ki] += 1 }
                if ranked.prefix(5).contains(qLabels[i]) { want5[ki] += 1 }
                // The scores themselves, through the public per-query function.
                let got = KNNClassifier.classScores(sims: order.map { Float(sims[$0]) }, labels: order.map { labels[$0] },
                                                    classes: classes, ks: [k], temperature: Float(t))[0]
                for c in 0..<classes { #expect(abs(Double(got[c]) - score[c]) < 1e-5) }
            }
        }
        #expect(r.accuracies.map(\.correctTop1) == want1)
        #expect(r.accuracies.map { $0.correctTop5 ?? -1 } == want5)
    }

    @Test func rankClassesBreaksTiesByLowerIndex() {
        #expect(KNNClassifier.rankClasses([0.2, 0.5, 0.5, 0.1, 0.5], limit: 2) == [1, 2])
        #expect(KNNClassifier.rankClasses([0, 0, 0], limit: 5) == [0, 1, 2])
    }

    @Test func badInputsAreClearErrors() throws {
        let x = try Matrix([[1, 0], [0, 1]])
        #expect(throws: NumericsError("2 train rows but 1 train labels")) {
            try KNNClassifier.evaluate(train: x, trainLabels: [0], queries: x, queryLabels: [0, 1], ks: [1], temperature: 0.07)
        }
        #expect(throws: NumericsError("train label 1 is negative (-1): labels are class indices 0, 1, ...")) {
            try KNNClassifier.evaluate(train: x, trainLabels: [0, -1], queries: x, queryLabels: [0, 1], ks: [1], temperature: 0.07)
        }
        #expect(throws: NumericsError("every k must be at least 1 (got [0, 5])")) {
            try KNNClassifier.evaluate(train: x, trainLabels: [0, 1], queries: x, queryLabels: [0, 1], ks: [0, 5], temperature: 0.07)
        }
        #expect(throws: NumericsError("the temperature must be positive, got 0.0")) {
            try KNNClassifier.evaluate(train: x, trainLabels: [0, 1], queries: x, queryLabels: [0, 1], ks: [1], temperature: 0)
        }
        let zero = try Matrix([[1, 0], [0, 0]])
        #expect(throws: NumericsError("pool row 1 is all zeros: it has no direction for cosine similarity")) {
            try KNNClassifier.evaluate(train: zero, trainLabels: [0, 1], queries: x, queryLabels: [0, 1], ks: [1], temperature: 0.07)
        }
    }

    func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0
        for i in a.indices { dot += Double(a[i]) * Double(b[i]); na += Double(a[i] * a[i]); nb += Double(b[i] * b[i]) }
        return dot / (na.squareRoot() * nb.squareRoot())
    }
}
