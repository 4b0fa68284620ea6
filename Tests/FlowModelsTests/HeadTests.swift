import Foundation
import FlowFormats
import FlowNumerics
import Testing
@testable import FlowModels

/// Central finite differences against an analytic gradient.
///
/// Passes when every coordinate satisfies |fd − analytic| ≤ rtol·|analytic| + atol·max|analytic|
/// (Float rounding makes tiny gradients noisy, hence the scale-relative floor). Returns the
/// index of the worst coordinate and its error, for messages.
struct CentralDifferenceCheck {
    var step: Float = 1e-3
    var rtol: Double = 2e-2
    var atol: Double = 2e-3

    /// `loss(i, delta)` is the loss with coordinate i moved by delta.
    func failures(analytic: [Float], loss: (Int, Float) -> Double) -> [String] {
        let scale = analytic.map { abs(Double($0)) }.max() ?? 0
        var out: [String] = []
        for i in analytic.indices {
            let fd = (loss(i, step) - loss(i, -step)) / (2 * Double(step))
            let a = Double(analytic[i])
            if abs(fd - a) > rtol * abs(a) + atol * scale { out.append("[\(i)] fd \(fd) vs analytic \(a)") }
        }
        return out
    }
}

@Suite struct HeadTests {
    static let config = DINOHeadConfig(inputDim: 5, hidden: 7, bottleneck: 4, prototypes: 6)

    /// A head with weights large enough that every layer, GELU curvature and the weight norm matter.
    static func head(seed: UInt64) -> DINOHead {
        var h = DINOHead(randomlyInitialized: config, seed: seed)
        var rng = FlowModels.SplitMix64(seed: seed &+ 1)
        h.fc1.weight = rng.normal(count: h.fc1.weight.count, std: 0.7)
        h.fc2.weight = rng.normal(count: h.fc2.weight.count, std: 0.5)
        h.fc3.weight = rng.normal(count: h.fc3.weight.count, std: 0.5)
        h.fc1.bias = rng.normal(count: config.hidden, std: 0.3)
        h.fc2.bias = rng.normal(count: config.hidden, std: 0.3)
        h.fc3.bias = rng.normal(count: config.bottleneck, std: 0.3)
        h.lastLayerG = rng.normal(count: config.prototypes, std: 1).map { 1 + 0.3 * $0 }
        return h
    }

    @Test func initFollowsReference() {
        let c = DINOHeadConfig(inputDim: 16, hidden: 32, bottleneck: 8, prototypes: 64)
        let h = DINOHead(randomlyInitialized: c, seed: 3)
        #expect(h == DINOHead(randomlyInitialized: c, seed: 3))
        #expect(h.lastLayerG.allSatisfy { $0 == 1 } && h.fc1.bias.allSatisfy { $0 == 0 })
        let std = (h.fc2.weight.map { Double($0 * $0) }.reduce(0, +) / Double(h.fc2.weight.count)).squareRoot()
        #expect(abs(std - 0.02) < 0.002, "fc2 weight std \(std)")
        let bound = 1 / Float(8).squareRoot()
        #expect(h.lastLayerV.allSatisfy { abs($0) <= bound } && h.lastLayerV.contains { abs($0) > bound / 2 })
        // Effective last-layer rows have norm g = 1.
        let w = h.lastLayerWeight()
        for k in 0..<64 {
            let n = (0..<8).map { w[k * 8 + $0] * w[k * 8 + $0] }.reduce(0, +).squareRoot()
            #expect(abs(n - 1) < 1e-5)
        }
    }

    /// Names and shapes as in the reference state dict of DINOHead(nlayers=3).
    @Test func parameterNames() {
        let h = DINOHead(randomlyInitialized: Self.config, seed: 1)
        let list = h.parameterList()
        #expect(list.map(\.name) == ["mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias", "mlp.4.weight",
                                     "mlp.4.bias", "last_layer.weight_g", "last_layer.weight_v"])
        #expect(list.map(\.info.shape) == [[7, 5], [7], [7, 7], [7], [4, 7], [4], [6, 1], [6, 4]])
        #expect(list.filter(\.info.isLastLayer).count == 2 && list.filter { !$0.info.weightDecay }.count == 3)
        #expect(DINOHeadGradients(zeros: Self.config).parameterList().map(\.name) == list.map(\.name))
    }

    /// Forward against a direct scalar implementation (libm erf, explicit weight norm).
    @Test func forwardMatchesScalarReference() {
        let h = Self.head(seed: 11)
        var rng = FlowModels.SplitMix64(seed: 5)
        let rows = 3
        let x = rng.normal(count: rows * 5, std: 1)
        let (out, _) = h.forward(x, rows: rows)
        for r in 0..<rows {
            let want = scalarHead(h, Array(x[(r * 5)..<((r + 1) * 5)]))
            for k in 0..<6 { #expect(abs(Double(out[r * 6 + k]) - want[k]) < 1e-4, "row \(r) logit \(k)") }
        }
    }

    func scalarHead(_ h: DINOHead, _ x: [Float]) -> [Double] {
        func linear(_ l: Linear, _ v: [Double]) -> [Double] {
            (0..<l.outFeatures).map { o in
                Double(l.bias[o]) + (0..<l.inFeatures).map { Double(l.weight[o * l.inFeatures + $0]) * v[$0] }.reduce(0, +)
            }
        }
        func gelu(_ v: [Double]) -> [Double] { v.map { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) } }
        let y = linear(h.fc3, gelu(linear(h.fc2, gelu(linear(h.fc1, x.map(Double.init))))))
        let n = max(y.map { $0 * $0 }.reduce(0, +).squareRoot(), 1e-12)
        let z = y.map { $0 / n }
        let b = h.config.bottleneck
        return (0..<h.config.prototypes).map { k in
            let v = (0..<b).map { Double(h.lastLayerV[k * b + $0]) }
            let vn = v.map { $0 * $0 }.reduce(0, +).squareRoot()
            return Double(h.lastLayerG[k]) * zip(v, z).map { $0 * $1 }.reduce(0, +) / vn
        }
    }

    /// L = Σ logits · R; every parameter and the input against central differences.
    @Test(arguments: [UInt64(1), 2, 3])
    func gradientsMatchFiniteDifferences(seed: UInt64) {
        let head = Self.head(seed: seed)
        var rng = FlowModels.SplitMix64(seed: seed &* 77)
        let rows = 3
        let x = rng.normal(count: rows * 5, std: 1)
        let r = rng.normal(count: rows * 6, std: 1)
        func loss(_ h: DINOHead, _ input: [Float]) -> Double {
            zip(h.forward(input, rows: rows).output, r).map { Double($0) * Double($1) }.reduce(0, +)
        }
        let (_, acts) = head.forward(x, rows: rows, keepActivations: true)
        guard let acts else { Issue.record("no activations"); return }
        let (dx, grads) = head.backward(r, activations: acts)
        let check = CentralDifferenceCheck()
        let inputFailures = check.failures(analytic: dx) { i, d in
            var x2 = x; x2[i] += d; return loss(head, x2)
        }
        #expect(inputFailures.isEmpty, "input: \(inputFailures)")
        for (name, analytic, _) in grads.parameterList() {
            let failures = check.failures(analytic: analytic) { i, d in
                var h2 = head
                h2.forEachParameter { n, values, _ in if n == name { values[i] += d } }
                return loss(h2, x)
            }
            #expect(failures.isEmpty, "\(name): \(failures)")
        }
    }

    /// The check can fail: a gradient missing the weight-norm projection term is caught.
    @Test func gradientCheckCatchesAWrongGradient() {
        let head = Self.head(seed: 4)
        var rng = FlowModels.SplitMix64(seed: 8)
        let x = rng.normal(count: 2 * 5, std: 1), r = rng.normal(count: 2 * 6, std: 1)
        let (_, acts) = head.forward(x, rows: 2, keepActivations: true)
        let grads = head.backward(r, activations: acts!).gradients
        var wrong = grads.values.lastLayerV
        for i in wrong.indices { wrong[i] *= 1.1 }
        let failures = CentralDifferenceCheck().failures(analytic: wrong) { i, d in
            var h2 = head; h2.lastLayerV[i] += d
            return zip(h2.forward(x, rows: 2).output, r).map { Double($0) * Double($1) }.reduce(0, +)
        }
        #expect(!failures.isEmpty)
    }

    /// Through a checkpoint's tensors under a prefix and back, bit for bit.
    @Test func safetensorsRoundTrip() throws {
        let head = Self.head(seed: 6)
        let tensors = head.safetensorsTensors(prefix: "dino_head.")
        #expect(tensors["dino_head.last_layer.weight_g"]?.shape == [6, 1])
        var loaded = DINOHead(zeros: Self.config)
        try loaded.load(from: tensors, prefix: "dino_head.", source: "test")
        #expect(loaded == head)
        #expect(throws: ModelError.self) { try loaded.load(from: tensors, prefix: "ibot_head.", source: "test") }
    }
}
