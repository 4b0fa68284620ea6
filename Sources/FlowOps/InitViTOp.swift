// flow op init-vit: a randomly initialised DINOv2 ViT backbone as safetensors.
import ArgumentParser
import Foundation
import FlowModels

/// `flow op init-vit`: writes a DINOv2 ViT of a preset size, initialised as the reference does,
/// under the reference tensor names, with the architecture in the file's metadata.
struct InitViTOp: FlowOp {
    static let configuration = CommandConfiguration(
        commandName: "init-vit",
        abstract: "Write a randomly initialised DINOv2 ViT backbone (safetensors).",
        discussion: """
        Presets (dim / depth / heads, MLP 4x): vit-test 32/2/2 (for tests), vit-tiny 192/12/3, \
        vit-small 384/12/6, vit-base 768/12/12, vit-large 1024/24/16. Initialisation follows \
        DINOv2: linear weights and pos_embed truncated normal (std 0.02), biases 0, cls and \
        register tokens N(0, 1e-6), mask_token 0, LayerScale gamma = --layerscale, patch \
        embedding as PyTorch's Conv2d default. The same arguments give the same bytes. \
        Tensor names are those of the DINOv2 reference code (cls_token, pos_embed, \
        blocks.0.attn.qkv.weight, ...); the architecture is stored in __metadata__.
        """)
    static let version = 1

    @Option(help: "Architecture preset: vit-test, vit-tiny, vit-small, vit-base or vit-large.")
    var arch: String

    @Option(help: "Patch size in pixels (14 in DINOv2).")
    var patch: Int = 14

    @Option(name: .customLong("image-size"),
            help: "Image side the position embeddings are built for; a multiple of --patch (224 in DINOv2 training).")
    var imageSize: Int = 224

    @Option(help: "Number of register tokens (0, or 4 as in the DINOv2 reg4 models).")
    var registers: Int = 0

    @Option(help: "Initial LayerScale gamma (1e-5 in DINOv2's training config).")
    var layerscale: Float = 1e-5

    @Option(help: "Seed of the random initialisation.")
    var seed: UInt64 = 0

    @Option(help: "Output .safetensors path.")
    var out: String

    func validate() throws {
        guard patch > 0 else { throw ValidationError("--patch must be positive (got \(patch))") }
        guard imageSize > 0, imageSize % patch == 0 else {
            throw ValidationError("--image-size \(imageSize) is not a multiple of --patch \(patch): use e.g. \(max(1, imageSize / patch) * patch)")
        }
        guard (0...64).contains(registers) else { throw ValidationError("--registers must be 0 to 64 (got \(registers))") }
        guard layerscale.isFinite, layerscale > 0 else { throw ValidationError("--layerscale must be a positive number") }
    }

    func run() throws {
        let config: ViTConfig
        do {
            config = try ViTConfig.preset(arch, patch: patch, imageSize: imageSize, registers: registers,
                                          layerScale: layerscale)
        } catch let e as ModelError {
            throw OpError(e.message)
        }
        let model = ViT(randomlyInitialized: config, seed: seed)
        do {
            try model.save(to: out, extraMetadata: ["seed": String(seed)])
        } catch {
            throw OpError("\(out): cannot write the model: \(error)")
        }
        let parameters = model.namedParameters().reduce(0) { $0 + $1.tensor.values.count }
        print("init-vit: \(config), \(parameters) parameters, seed \(seed) -> \(out)")
    }
}
