import Foundation
import FlowFormats
import FlowTestSupport
import Testing
@testable import FlowModels

/// The forward pass against the independent NumPy implementation in Fixtures/vit_reference.py.
@Suite struct ViTReferenceTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    /// |a − b| ≤ 1e-4 · max(|b|, 1) element-wise (outputs are LayerNorm'd, so O(1)).
    func worstError(_ got: [Float], _ want: [Float]) -> Double {
        guard got.count == want.count else { return .infinity }
        return zip(got, want).map { Double(abs($0 - $1)) / max(Double(abs($1)), 1) }.max() ?? 0
    }

    /// The committed fixture (a 2-block dim-8 model with 1 register, made by `vit_reference.py
    /// make-fixture`): runs without Python. The 12×16 input turns the stored 2×2 position grid
    /// into a non-square 3×4 one, so the bicubic interpolation is covered too.
    @Test func committedFixtureMatches() throws {
        let model = try ViT.load(path: Self.fixtures + "/vit_fixture.safetensors")
        #expect(model.config.registers == 1 && model.config.heads == 2 && !model.config.interpolateAntialias)
        let input = try NPY.read(path: Self.fixtures + "/vit_fixture_input.npy")
        let expected = try NPY.read(path: Self.fixtures + "/vit_fixture_expected.npy")
        #expect(input.shape == [2, 3, 12, 16] && expected.shape == [2, 14, 8])
        let out = try model.forward(images: try input.float32Values(), batch: 2, height: 12, width: 16)
        let err = worstError(out.tokens, try expected.float32Values())
        #expect(err < 1e-4, "worst relative error \(err)")
    }

    /// flow saves a random model, NumPy runs it: registers with antialiased upsampling of the
    /// position grid, and no registers with the 0.1-offset kludge while shrinking it.
    @Test(arguments: [(1, 20, 24), (0, 12, 12)])
    func numpyReferenceMatchesFlowSavedWeights(registers: Int, height: Int, width: Int) throws {
        let python = try Python.require(["numpy"])
        let dir = TemporaryDirectory("vit-ref")
        let config = ViTConfig(dim: 32, depth: 2, heads: 2, mlpHidden: 64, patch: 4, imageSize: 16,
                               registers: registers, layerScale: 1)
        var model = ViT(randomlyInitialized: config, seed: 42)
        var rng = SplitMix64(seed: 9)
        // Larger weights than the init so attention is far from uniform and every block matters.
        model.posEmbed = rng.normal(count: model.posEmbed.count, std: 0.5)
        model.clsToken = rng.normal(count: 32, std: 1)
        model.registerTokens = rng.normal(count: model.registerTokens.count, std: 1)
        for i in model.blocks.indices {
            model.blocks[i].attn.qkv.weight = rng.normal(count: 3 * 32 * 32, std: 0.3)
            model.blocks[i].mlp.fc1.weight = rng.normal(count: 64 * 32, std: 0.3)
            model.blocks[i].norm1.bias = rng.normal(count: 32, std: 0.2)
            model.blocks[i].ls2 = rng.normal(count: 32, std: 0.5)
        }
        try model.save(to: dir.path + "/model.safetensors")
        let images = rng.normal(count: 2 * 3 * height * width, std: 1)
        try NPY.write(NPYArray(float32: images, shape: [2, 3, height, width]), to: dir.path + "/input.npy")
        let result = try FlowBinary.runProgram(python, [Self.fixtures + "/vit_reference.py", "forward",
                                                        "model.safetensors", "input.npy", "out.npy"], in: dir.path)
        #expect(result.status == 0, "\(result)")
        guard result.status == 0 else { return }
        let want = try NPY.read(path: dir.path + "/out.npy")
        let out = try model.forward(images: images, batch: 2, height: height, width: width, threads: 2)
        #expect(want.shape == [2, out.tokenCount, 32])
        let err = worstError(out.tokens, try want.float32Values())
        #expect(err < 1e-4, "worst relative error \(err)")
    }

    /// The antialiased weights against Pillow's BICUBIC resize (the same filter), when installed.
    @Test func antialiasFilterMatchesPillow() throws {
        let python = try Python.require(["numpy", "PIL"])
        let result = try FlowBinary.runProgram(python, [Self.fixtures + "/vit_reference.py", "resize-check"],
                                               in: NSTemporaryDirectory())
        #expect(result.status == 0, "\(result)")
    }
}
