import Testing
@testable import FlowModels

@Suite struct ViTParameterTests {
    let config = ViTConfig(arch: "custom", dim: 64, depth: 2, heads: 1, mlpHidden: 96, patch: 4, imageSize: 16, registers: 2)

    func tensors(_ model: ViT) -> [String: NamedTensor] {
        Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.name, $0.tensor) })
    }

    @Test func initIsSeededAndFollowsTheReference() throws {
        let a = ViT(randomlyInitialized: config, seed: 7)
        #expect(a == ViT(randomlyInitialized: config, seed: 7))
        #expect(a != ViT(randomlyInitialized: config, seed: 8))
        let w = a.blocks[0].attn.qkv.weight.map(Double.init)
        let mean = w.reduce(0, +) / Double(w.count)
        let std = (w.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(w.count)).squareRoot()
        #expect(abs(std - 0.02) < 0.001, "qkv std \(std)")
        #expect(a.blocks[1].mlp.fc2.bias.allSatisfy { $0 == 0 })
        #expect(a.blocks[0].ls1 == [Float](repeating: 1e-5, count: 64))
        #expect(a.clsToken.allSatisfy { abs($0) < 1e-5 } && a.clsToken.contains { $0 != 0 })
        #expect(a.maskToken.allSatisfy { $0 == 0 })
        let bound = 1 / Float(48).squareRoot()
        #expect(a.patchEmbed.proj.weight.allSatisfy { abs($0) <= bound })
    }

    @Test func namesAndShapesAreTheReferenceOnes() {
        let t = tensors(ViT(zeros: config))
        #expect(t["pos_embed"]?.shape == [1, 17, 64])
        #expect(t["register_tokens"]?.shape == [1, 2, 64])
        #expect(t["patch_embed.proj.weight"]?.shape == [64, 3, 4, 4])
        #expect(t["blocks.1.attn.qkv.weight"]?.shape == [192, 64])
        #expect(t["blocks.1.mlp.fc1.weight"]?.shape == [96, 64])
        #expect(t["blocks.0.ls2.gamma"]?.shape == [64])
        #expect(t.count == 6 + 2 * 14 + 2)
    }

    @Test func roundTripsWithAndWithoutMetadata() throws {
        let model = ViT(randomlyInitialized: config, seed: 1)
        #expect(try ViT(parameters: tensors(model), metadata: config.metadata, source: "m") == model)
        // Without metadata (a converted DINOv2 checkpoint): heads = dim / 64, offset and antialias from registers.
        let inferred = try ViT(parameters: tensors(model), source: "m")
        #expect(inferred.config.heads == 1 && inferred.config.imageSize == 16 && inferred.config.registers == 2)
        #expect(inferred.config.interpolateAntialias && inferred.config.interpolateOffset == 0)
        #expect(inferred.blocks == model.blocks)
    }

    @Test func chunkedAndPrefixedNamesAndMissingMaskTokenLoad() throws {
        let model = ViT(randomlyInitialized: config, seed: 2)
        var renamed: [String: NamedTensor] = [:]
        for (name, t) in tensors(model) where name != "mask_token" {
            // FSDP block chunks: blocks.CHUNK.INDEX.*, plus a backbone. prefix.
            renamed["backbone." + name.replacingOccurrences(of: "blocks.1.", with: "blocks.0.1.")] = t
        }
        #expect(try ViT(parameters: renamed, metadata: config.metadata, source: "m") == model)
    }

    @Test func badCheckpointsAreRefusedWithTheTensorNamed() throws {
        let good = tensors(ViT(zeros: config))
        func message(_ t: [String: NamedTensor], _ meta: [String: String] = [:], expecting: ViTConfig? = nil) -> String {
            do {
                _ = try ViT(parameters: t, metadata: meta, source: "ckpt.safetensors", expecting: expecting)
                return "loaded"
            } catch { return "\(error)" }
        }
        var missing = good
        missing["blocks.1.norm2.bias"] = nil
        #expect(message(missing).contains("missing tensor 'blocks.1.norm2.bias'"))
        var wrong = good
        wrong["blocks.0.attn.proj.weight"] = NamedTensor(shape: [64, 32], values: [Float](repeating: 0, count: 2048))
        #expect(message(wrong).contains("'blocks.0.attn.proj.weight' has shape [64, 32], expected [64, 64]"))
        var extra = good
        extra["head.weight"] = NamedTensor(shape: [1], values: [0])
        #expect(message(extra).contains("unexpected tensor 'head.weight'"))
        var swiglu = good
        swiglu["blocks.0.mlp.w12.weight"] = NamedTensor(shape: [1], values: [0])
        #expect(message(swiglu).contains("SwiGLU"))
        #expect(message(["weight": NamedTensor(shape: [1], values: [0])]).contains("not a DINOv2 ViT backbone"))
        #expect(message(good, ["depth": "12"]).contains("metadata says depth = 12 but the tensors give 2"))
        let small = try ViTConfig.preset("vit-small", patch: 4, imageSize: 16)
        #expect(message(good, config.metadata, expecting: small).contains("checkpoint of another architecture"))
        #expect(message(good).hasPrefix("ckpt.safetensors: ") == false)  // loads fine without metadata
    }

    @Test func presetsAndValidation() throws {
        let s = try ViTConfig.preset("vit_small", patch: 14, imageSize: 224)
        #expect(s.dim == 384 && s.heads == 6 && s.depth == 12 && s.mlpHidden == 1536 && s.grid == 16)
        #expect(throws: ModelError.self) { try ViTConfig.preset("vit-huge", patch: 14, imageSize: 224) }
        do {
            _ = try ViTConfig.preset("vit-tiny", patch: 14, imageSize: 225)
            Issue.record("225 with patch 14 accepted")
        } catch {
            #expect("\(error)".contains("not a multiple of the patch size 14"))
        }
        // ViT-S/14 at 224: 257 tokens; per block 2·257·(4·384² + 2·384·1536) for the linears and
        // 4·257²·384 for attention, plus the patch embedding: about 6.1 GMAC = 12.2 GFLOP.
        let linears: Double = 2.0 * 257 * Double(4 * 384 * 384 + 2 * 384 * 1536)
        let attention: Double = 4.0 * 257 * 257 * 384
        let patches: Double = 2.0 * 256 * 588 * 384
        let want: Double = 12 * (linears + attention) + patches
        #expect(s.forwardFLOPs(height: 224, width: 224) == want)
        #expect(want > 12.1e9 && want < 12.3e9)
    }
}
