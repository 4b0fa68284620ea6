import Testing
@testable import FlowModels

/// Each layer's backward pass against central finite differences of its forward.
@Suite struct GradientLayerTests {
    typealias G = GradientCheck
    static let tolerance = 1e-2

    /// Expects the finite-difference error of `analytic` to be under `tolerance`.
    func check(values: [Float], analytic: [Float], eps: Float = 1e-2, coordinates: Int = 3,
               sourceLocation: SourceLocation = #_sourceLocation, _ f: ([Float]) -> Double) {
        let e = GradientCheck.error(values: values, analytic: analytic, eps: eps, coordinates: coordinates, f)
        #expect(e < Self.tolerance, sourceLocation: sourceLocation)
    }

    @Test func linear() {
        var rng = SplitMix64(seed: 1)
        let rows = 4
        var layer = Linear(inFeatures: 5, outFeatures: 3, weight: G.random(15, &rng), bias: G.random(3, &rng))
        let x = G.random(rows * 5, &rng), w = G.random(rows * 3, &rng)
        var grads = Linear(inFeatures: 5, outFeatures: 3)
        let dx = layer.backward(input: x, outputGradient: w, rows: rows, gradients: &grads)!
        check(values: x, analytic: dx) { G.weightedSum(layer.forward($0, rows: rows), w) }
        let base = layer
        check(values: base.weight, analytic: grads.weight) { v in
            layer.weight = v; return G.weightedSum(layer.forward(x, rows: rows), w)
        }
        layer = base
        check(values: base.bias, analytic: grads.bias) { v in
            layer.bias = v; return G.weightedSum(layer.forward(x, rows: rows), w)
        }
        // Gradients accumulate: a second pass doubles them.
        var twice = grads
        _ = base.backward(input: x, outputGradient: w, rows: rows, gradients: &twice, needInputGradient: false)
        #expect(zip(twice.weight, grads.weight).allSatisfy { abs($0 - 2 * $1) <= 1e-5 * max(1, abs($0)) })
    }

    @Test(arguments: [1, 2]) func layerNorm(threads: Int) {
        var rng = SplitMix64(seed: 2)
        let rows = 5, d = 8
        var ln = LayerNorm(dim: d)
        ln.weight = G.random(d, &rng)
        ln.bias = G.random(d, &rng)
        let x = G.random(rows * d, &rng, scale: 2), w = G.random(rows * d, &rng)
        let (_, stats) = ln.forwardWithStatistics(x, rows: rows)
        var grads = LayerNorm(dim: d)
        grads.weight = [Float](repeating: 0, count: d)
        let dx = ln.backward(input: x, statistics: stats, outputGradient: w, rows: rows, gradients: &grads,
                             threads: threads)
        check(values: x, analytic: dx, eps: 1e-2) { G.weightedSum(ln.forward($0, rows: rows), w) }
        let base = ln
        check(values: base.weight, analytic: grads.weight) { v in
            ln.weight = v; return G.weightedSum(ln.forward(x, rows: rows), w)
        }
        ln = base
        check(values: base.bias, analytic: grads.bias) { v in
            ln.bias = v; return G.weightedSum(ln.forward(x, rows: rows), w)
        }
    }

    @Test func geluDerivative() {
        for x in stride(from: Float(-5), through: 5, by: 0.37) {
            let h: Float = 1e-2
            let numeric = (Double(FastMath.gelu(x + h)) - Double(FastMath.gelu(x - h))) / (2 * Double(h))
            #expect(abs(numeric - Double(FastMath.geluDerivative(x))) < 1e-3)
        }
    }

    @Test func mlp() {
        var rng = SplitMix64(seed: 3)
        let rows = 3, d = 4, hidden = 6
        var m = MLP(dim: d, hidden: hidden)
        m.fc1 = Linear(inFeatures: d, outFeatures: hidden, weight: G.random(d * hidden, &rng), bias: G.random(hidden, &rng))
        m.fc2 = Linear(inFeatures: hidden, outFeatures: d, weight: G.random(d * hidden, &rng), bias: G.random(d, &rng))
        let x = G.random(rows * d, &rng), w = G.random(rows * d, &rng)
        let acts = m.forward(x, rows: rows, keepActivations: true).activations!
        var grads = MLP(dim: d, hidden: hidden)
        let dx = m.backward(input: x, activations: acts, outputGradient: w, rows: rows, gradients: &grads)
        func loss(_ model: MLP, _ input: [Float]) -> Double { G.weightedSum(model.forward(input, rows: rows).output, w) }
        check(values: x, analytic: dx) { loss(m, $0) }
        for path in [\MLP.fc1.weight, \MLP.fc1.bias, \MLP.fc2.weight, \MLP.fc2.bias] {
            var probe = m
            check(values: m[keyPath: path], analytic: grads[keyPath: path]) { v in
                probe[keyPath: path] = v; return loss(probe, x)
            }
        }
    }

    @Test(arguments: [1, 2]) func attention(threads: Int) {
        var rng = SplitMix64(seed: 4)
        let batch = 2, tokens = 5, d = 8, heads = 2
        var a = Attention(dim: d, heads: heads)
        a.qkv = Linear(inFeatures: d, outFeatures: 3 * d, weight: G.random(3 * d * d, &rng, scale: 0.5),
                       bias: G.random(3 * d, &rng, scale: 0.5))
        a.proj = Linear(inFeatures: d, outFeatures: d, weight: G.random(d * d, &rng, scale: 0.5),
                        bias: G.random(d, &rng))
        let x = G.random(batch * tokens * d, &rng), w = G.random(batch * tokens * d, &rng)
        let acts = a.forward(x, batch: batch, tokens: tokens, keepActivations: true).activations!
        var grads = Attention(dim: d, heads: heads)
        let dx = a.backward(input: x, activations: acts, outputGradient: w, batch: batch, tokens: tokens,
                            gradients: &grads, threads: threads)
        func loss(_ model: Attention, _ input: [Float]) -> Double {
            G.weightedSum(model.forward(input, batch: batch, tokens: tokens).output, w)
        }
        check(values: x, analytic: dx, coordinates: 5) { loss(a, $0) }
        for path in [\Attention.qkv.weight, \Attention.qkv.bias, \Attention.proj.weight, \Attention.proj.bias] {
            var probe = a
            check(values: a[keyPath: path], analytic: grads[keyPath: path], coordinates: 5) { v in
                probe[keyPath: path] = v; return loss(probe, x)
            }
        }
    }

    /// Without drop path, and with drop-path scales that drop one branch of one sample and
    /// scale the other (as `DropPath` makes them): the backward goes through the same scales.
    @Test(arguments: [false, true])
    func blockWithLayerScale(dropPath: Bool) {
        var rng = SplitMix64(seed: 5)
        let batch = 2, tokens = 3, d = 4
        let drop = dropPath ? ViTBlock.DropScales(attention: [0, 2], mlp: [1.5, 0.5]) : nil
        var block = ViTBlock(dim: d, heads: 2, mlpHidden: 8, layerScale: 0.5)
        block.forEachTensor { $0 = G.random($0.count, &rng, scale: 0.5) }
        block.norm1.weight = block.norm1.weight.map { $0 + 1 }
        block.norm2.weight = block.norm2.weight.map { $0 + 1 }
        let x = G.random(batch * tokens * d, &rng), w = G.random(batch * tokens * d, &rng)
        var y = x
        let acts = block.forward(&y, batch: batch, tokens: tokens, keepActivations: true, drop: drop)!
        var grads = block
        grads.forEachTensor { $0 = [Float](repeating: 0, count: $0.count) }
        let dx = block.backward(activations: acts, outputGradient: w, batch: batch, tokens: tokens, gradients: &grads)
        func loss(_ model: ViTBlock, _ input: [Float]) -> Double {
            var v = input
            _ = model.forward(&v, batch: batch, tokens: tokens, drop: drop)
            return G.weightedSum(v, w)
        }
        if dropPath {
            // Sample 0 skips the attention branch: its rows see no attention at all.
            var plain = x, scaled = x
            var noAttention = block
            noAttention.ls1 = [Float](repeating: 0, count: d)
            _ = noAttention.forward(&plain, batch: batch, tokens: tokens, drop: ViTBlock.DropScales(attention: nil, mlp: [1.5, 0.5]))
            _ = block.forward(&scaled, batch: batch, tokens: tokens, drop: drop)
            #expect(zip(plain.prefix(tokens * d), scaled.prefix(tokens * d)).allSatisfy { abs($0 - $1) < 1e-6 })
        }
        check(values: x, analytic: dx, coordinates: 5) { loss(block, $0) }
        let paths: [WritableKeyPath<ViTBlock, [Float]>] = [
            \.norm1.weight, \.norm1.bias, \.attn.qkv.weight, \.attn.proj.bias, \.ls1!, \.ls2!,
            \.norm2.bias, \.mlp.fc1.weight, \.mlp.fc2.weight,
        ]
        for path in paths {
            var probe = block
            check(values: block[keyPath: path], analytic: grads[keyPath: path]) { v in
                probe[keyPath: path] = v; return loss(probe, x)
            }
        }
    }
}

extension ViTBlock {
    /// Visits every parameter array (test helper for random fills and zeroing).
    mutating func forEachTensor(_ body: (inout [Float]) -> Void) {
        body(&norm1.weight); body(&norm1.bias)
        body(&attn.qkv.weight); body(&attn.qkv.bias); body(&attn.proj.weight); body(&attn.proj.bias)
        if ls1 != nil { body(&ls1!) }
        body(&norm2.weight); body(&norm2.bias)
        body(&mlp.fc1.weight); body(&mlp.fc1.bias); body(&mlp.fc2.weight); body(&mlp.fc2.bias)
        if ls2 != nil { body(&ls2!) }
    }
}
