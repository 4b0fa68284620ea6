import Testing
@testable import FlowModels

/// The full ViT backward pass against central finite differences, on a tiny model with every
/// parameter randomised (so no path is hidden by zero weights or LayerScale's 1e-5).
@Suite struct GradientViTTests {
    typealias G = GradientCheck

    static func model(registers: Int = 1, layerScale: Float? = 0.5) -> ViT {
        let config = ViTConfig(dim: 8, depth: 2, heads: 2, mlpHidden: 12, patch: 2, imageSize: 6,
                               registers: registers, layerScale: layerScale)
        var m = ViT(zeros: config)
        var rng = SplitMix64(seed: 11)
        m.forEachParameter { name, values, _ in
            let offset: Float = name.contains("norm") && name.hasSuffix("weight") ? 1 : 0
            values = G.random(values.count, &rng, scale: 0.4).map { $0 + offset }
        }
        return m
    }

    /// Checks every parameter tensor and the image gradient for one input size and mask.
    func checkAll(_ model: ViT, side: Int, masks: [[Bool]]?, threads: Int = 1) throws {
        let batch = 2
        var rng = SplitMix64(seed: 12)
        let images = G.random(batch * 3 * side * side, &rng)
        let out = try model.forward(images: images, batch: batch, height: side, width: side, threads: threads,
                                    keepActivations: true, masks: masks)
        let w = G.random(out.tokens.count, &rng)
        var grads = ViTGradients(zeros: model.config)
        let dImages = try model.backward(out, tokenGradient: w, gradients: &grads, threads: threads,
                                         needImageGradient: true)!
        func loss(_ m: ViT, _ x: [Float]) -> Double {
            let o = try? m.forward(images: x, batch: batch, height: side, width: side, masks: masks)
            return G.weightedSum(o?.tokens ?? [], w)
        }
        let e = G.error(values: images, analytic: dImages, coordinates: 4) { loss(model, $0) }
        #expect(e < 1e-2, "image gradient at \(side)x\(side)")
        let analytic = grads.parameterValues()
        for (name, values, _) in model.parameterList() {
            var probe = model
            let e = G.error(values: values, analytic: analytic[name] ?? [], coordinates: 2) { v in
                probe.forEachParameter { n, p, _ in if n == name { p = v } }
                return loss(probe, images)
            }
            #expect(e < 1e-2, "\(name) at \(side)x\(side), masks \(masks != nil)")
        }
    }

    @Test func storedGrid() throws {
        try checkAll(Self.model(), side: 6, masks: nil)
    }

    /// A 4×4 input uses the 2×2 grid resized from the stored 3×3: pos_embed's gradient goes
    /// through the transpose of the bicubic resize.
    @Test func interpolatedGridWithMasks() throws {
        let masks = [[true, false, false, true], [false, false, false, false]]
        try checkAll(Self.model(), side: 4, masks: masks, threads: 2)
    }

    @Test func noRegistersNoLayerScaleMasked() throws {
        let masks = [[false, true, true, false, false, false, true, false, false], [Bool](repeating: true, count: 9)]
        try checkAll(Self.model(registers: 0, layerScale: nil), side: 6, masks: masks)
    }

    /// Masked patches: the mask token gets their gradient, their pixels get none.
    @Test func maskedPixelsGetNoGradient() throws {
        let m = Self.model()
        var rng = SplitMix64(seed: 3)
        let images = G.random(3 * 6 * 6, &rng)
        let masks = [[true] + [Bool](repeating: false, count: 8)]
        let out = try m.forward(images: images, batch: 1, height: 6, width: 6, keepActivations: true, masks: masks)
        var grads = ViTGradients(zeros: m.config)
        let dx = try m.backward(out, tokenGradient: G.random(out.tokens.count, &rng), gradients: &grads,
                                needImageGradient: true)!
        // Patch 0 is the top-left 2×2 of each channel.
        for c in 0..<3 { for y in 0..<2 { for x in 0..<2 { #expect(dx[(c * 6 + y) * 6 + x] == 0) } } }
        #expect(dx[(0 * 6 + 0) * 6 + 2] != 0)
        #expect(grads.values.maskToken.contains { $0 != 0 })
    }

    @Test func rejectsMissingActivationsAndBadMasks() throws {
        let m = Self.model()
        let images = [Float](repeating: 0.1, count: 3 * 6 * 6)
        let out = try m.forward(images: images, batch: 1, height: 6, width: 6)
        var grads = ViTGradients(zeros: m.config)
        #expect(throws: ModelError.self) {
            try m.backward(out, tokenGradient: [Float](repeating: 0, count: out.tokens.count), gradients: &grads)
        }
        #expect(throws: ModelError.self) {
            try m.forward(images: images, batch: 1, height: 6, width: 6, masks: [[true, false]])
        }
    }
}
