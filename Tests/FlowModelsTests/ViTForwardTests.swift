import Testing
@testable import FlowModels

@Suite struct ViTForwardTests {
    /// A tiny model with LayerScale 1 and non-trivial norms, so every block changes the tokens.
    func model(registers: Int = 1) -> ViT {
        let config = ViTConfig(dim: 16, depth: 2, heads: 2, mlpHidden: 32, patch: 4, imageSize: 8,
                               registers: registers, layerScale: 1)
        var m = ViT(randomlyInitialized: config, seed: 11)
        var rng = SplitMix64(seed: 5)
        m.clsToken = rng.normal(count: 16, std: 1)
        m.registerTokens = rng.normal(count: m.registerTokens.count, std: 1)
        m.posEmbed = rng.normal(count: m.posEmbed.count, std: 1)
        for i in m.blocks.indices {
            m.blocks[i].attn.qkv.weight = rng.normal(count: m.blocks[i].attn.qkv.weight.count, std: 0.5)
            m.blocks[i].mlp.fc1.weight = rng.normal(count: m.blocks[i].mlp.fc1.weight.count, std: 0.5)
        }
        return m
    }

    func images(_ count: Int, _ h: Int, _ w: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return rng.normal(count: count * 3 * h * w, std: 1)
    }

    @Test(arguments: [1, 2]) func batchingDoesNotMixImages(threads: Int) throws {
        let m = model()
        let a = images(1, 12, 16, seed: 1), b = images(1, 12, 16, seed: 2)
        let both = try m.forward(images: a + b, batch: 2, height: 12, width: 16, threads: threads)
        let alone = try m.forward(images: b, batch: 1, height: 12, width: 16)
        #expect(both.tokenCount == 1 + 1 + 12)
        let second = Array(both.tokens[(14 * 16)...])
        #expect(zip(second, alone.tokens).allSatisfy { abs($0 - $1) < 1e-5 })
        #expect(Array(both.tokens[0..<16]) != Array(second[0..<16]))
    }

    @Test func poolingAndActivations() throws {
        let m = model(registers: 0)
        let out = try m.forward(images: images(2, 8, 8, seed: 3), batch: 2, height: 8, width: 8, keepActivations: true)
        #expect(out.tokenCount == 5)
        #expect(out.classTokens == Array(out.tokens[0..<16]) + Array(out.tokens[(5 * 16)..<(6 * 16)]))
        let mean = out.patchTokenMean
        var want = [Float](repeating: 0, count: 16)
        for t in 1..<5 { for j in 0..<16 { want[j] += out.tokens[t * 16 + j] / 4 } }
        #expect(zip(mean[0..<16], want).allSatisfy { abs($0 - $1) < 1e-6 })
        #expect(out.blockActivations?.count == 2)
        #expect(out.blockActivations?[1].attention.probabilities.count == 2 * 2 * 5 * 5)
    }

    @Test func sizesThatAreNotAMultipleOfThePatchAreRefused() {
        let m = model()
        #expect(throws: ModelError.self) { try m.forward(images: images(1, 10, 8, seed: 1), batch: 1, height: 10, width: 8) }
        #expect(throws: ModelError.self) { try m.forward(images: [1, 2, 3], batch: 1, height: 8, width: 8) }
    }

    @Test func positionEmbeddingsAreKeptAtTheTrainedGridAndResizedOtherwise() {
        let m = model(registers: 0)
        #expect(m.positionEmbeddings(gridHeight: 2, gridWidth: 2) == m.posEmbed)
        let p = m.positionEmbeddings(gridHeight: 3, gridWidth: 5)
        #expect(p.count == (1 + 15) * 16)
        #expect(Array(p[0..<16]) == Array(m.posEmbed[0..<16]))
    }
}

/// `lastBlocks`: the class tokens of the last blocks, each through the final norm.
@Suite struct ViTIntermediateLayerTests {
    @Test func lastBlocksAreTheClassTokensOfShorterModels() throws {
        let config = ViTConfig(arch: "custom", dim: 16, depth: 3, heads: 2, patch: 4, imageSize: 8, layerScale: 0.5)
        let model = ViT(randomlyInitialized: config, seed: 4)
        var rng = SplitMix64(seed: 5)
        let images = (0..<(2 * 3 * 8 * 8)).map { _ in Float(rng.next() % 1000) / 500 - 1 }
        let out = try model.forward(images: images, batch: 2, height: 8, width: 8, lastBlocks: 4)
        let blocks = try #require(out.intermediateClassTokens)
        #expect(blocks.count == 3)                       // at most the depth
        #expect(blocks[2] == out.classTokens)
        for keep in 1...2 {
            var short = model
            short.blocks.removeLast(3 - keep)
            short.config.depth = keep
            let s = try short.forward(images: images, batch: 2, height: 8, width: 8)
            #expect(zip(s.classTokens, blocks[keep - 1]).allSatisfy { abs($0 - $1) < 1e-5 }, "block \(keep)")
        }
        #expect(try model.forward(images: images, batch: 2, height: 8, width: 8).intermediateClassTokens == nil)
    }
}
