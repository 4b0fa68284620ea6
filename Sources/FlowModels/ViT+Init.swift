import Foundation

/// Random initialisation as in DINOv2 (`DinoVisionTransformer.init_weights`, timm `init_weights_vit_timm`).
extension ViT {
    /// A model of `config` initialised from `seed`, the same bytes for the same seed:
    /// - Linear weights (qkv, proj, fc1, fc2) and `pos_embed`: trunc_normal(std 0.02, a = -2, b = 2);
    ///   as in timm the bounds are absolute (±100σ), so this is in effect N(0, 0.02²);
    /// - Linear biases 0; LayerNorm weight 1, bias 0; LayerScale γ = `config.layerScale`;
    /// - `cls_token` and `register_tokens`: N(0, 1e-6²); `mask_token`: zeros;
    /// - patch_embed conv (untouched by DINOv2's init, so PyTorch's Conv2d default):
    ///   weight and bias U(-1/√fan_in, 1/√fan_in), fan_in = 3·P².
    public init(randomlyInitialized config: ViTConfig, seed: UInt64) {
        var model = ViT(zeros: config)
        var rng = SplitMix64(seed: seed)
        let fanIn = Float(3 * config.patch * config.patch)
        let bound = 1 / fanIn.squareRoot()
        model.patchEmbed.proj.weight = rng.uniform(count: model.patchEmbed.proj.weight.count, bound: bound)
        model.patchEmbed.proj.bias = rng.uniform(count: config.dim, bound: bound)
        model.clsToken = rng.normal(count: config.dim, std: 1e-6)
        model.posEmbed = rng.truncatedNormal(count: model.posEmbed.count, std: 0.02)
        model.registerTokens = rng.normal(count: model.registerTokens.count, std: 1e-6)
        for i in model.blocks.indices {
            for path in [\ViTBlock.attn.qkv, \ViTBlock.attn.proj, \ViTBlock.mlp.fc1, \ViTBlock.mlp.fc2] {
                let count = model.blocks[i][keyPath: path].weight.count
                model.blocks[i][keyPath: path].weight = rng.truncatedNormal(count: count, std: 0.02)
            }
        }
        self = model
    }
}

/// SplitMix64 with Box–Muller normals: a small, seedable, platform-independent generator for
/// reproducible initialisation (Swift's default generator is not seedable).
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1), 53 bits.
    mutating func unit() -> Double { (Double(next() >> 11) + 0.5) / 9_007_199_254_740_992 }

    mutating func standardNormal() -> Double {
        let u1 = unit(), u2 = unit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    mutating func normal(count: Int, std: Float) -> [Float] {
        (0..<count).map { _ in Float(standardNormal()) * std }
    }

    /// N(0, std²) redrawn until inside [-2, 2] (timm's absolute bounds).
    mutating func truncatedNormal(count: Int, std: Float) -> [Float] {
        (0..<count).map { _ in
            while true {
                let v = Float(standardNormal()) * std
                if v >= -2 && v <= 2 { return v }
            }
        }
    }

    mutating func uniform(count: Int, bound: Float) -> [Float] {
        (0..<count).map { _ in Float(2 * unit() - 1) * bound }
    }
}
