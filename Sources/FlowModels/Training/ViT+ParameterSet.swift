/// The ViT as a `ParameterSet`: the same names, shapes and order as `namedParameters()`, with
/// DINOv2's optimisation rules (no decay on biases, norms, γ; patch_embed lr ×0.2; layer-wise
/// decay exponents L + 1 − id).
extension ViT: ParameterSet {
    public mutating func forEachParameter(_ body: (String, inout [Float], ParameterInfo) throws -> Void) rethrows {
        let c = config, d = c.dim, p = c.patch, h = c.mlpHidden, depth = c.depth
        func info(_ name: String, _ shape: [Int], layer: Int) -> ParameterInfo {
            ParameterInfo.dinov2(name: name, shape: shape, layerDecayExponent: depth + 1 - layer)
        }
        try body("cls_token", &clsToken, info("cls_token", [1, 1, d], layer: 0))
        try body("pos_embed", &posEmbed, info("pos_embed", [1, 1 + c.grid * c.grid, d], layer: 0))
        try body("mask_token", &maskToken, info("mask_token", [1, d], layer: 0))
        if c.registers > 0 {
            try body("register_tokens", &registerTokens, info("register_tokens", [1, c.registers, d], layer: 0))
        }
        try body("patch_embed.proj.weight", &patchEmbed.proj.weight,
                 info("patch_embed.proj.weight", [d, 3, p, p], layer: 0))
        try body("patch_embed.proj.bias", &patchEmbed.proj.bias, info("patch_embed.proj.bias", [d], layer: 0))
        for i in blocks.indices {
            let n = "blocks.\(i)."
            let layer = i + 1
            func visit(_ suffix: String, _ values: inout [Float], _ shape: [Int]) throws {
                try body(n + suffix, &values, info(n + suffix, shape, layer: layer))
            }
            try visit("norm1.weight", &blocks[i].norm1.weight, [d])
            try visit("norm1.bias", &blocks[i].norm1.bias, [d])
            try visit("attn.qkv.weight", &blocks[i].attn.qkv.weight, [3 * d, d])
            try visit("attn.qkv.bias", &blocks[i].attn.qkv.bias, [3 * d])
            try visit("attn.proj.weight", &blocks[i].attn.proj.weight, [d, d])
            try visit("attn.proj.bias", &blocks[i].attn.proj.bias, [d])
            if blocks[i].ls1 != nil { try visit("ls1.gamma", &blocks[i].ls1!, [d]) }
            try visit("norm2.weight", &blocks[i].norm2.weight, [d])
            try visit("norm2.bias", &blocks[i].norm2.bias, [d])
            try visit("mlp.fc1.weight", &blocks[i].mlp.fc1.weight, [h, d])
            try visit("mlp.fc1.bias", &blocks[i].mlp.fc1.bias, [h])
            try visit("mlp.fc2.weight", &blocks[i].mlp.fc2.weight, [d, h])
            try visit("mlp.fc2.bias", &blocks[i].mlp.fc2.bias, [d])
            if blocks[i].ls2 != nil { try visit("ls2.gamma", &blocks[i].ls2!, [d]) }
        }
        try body("norm.weight", &norm.weight, info("norm.weight", [d], layer: depth + 1))
        try body("norm.bias", &norm.bias, info("norm.bias", [d], layer: depth + 1))
    }
}

/// Gradients of a ViT's parameters, held in a ViT-shaped value (every field is ∂loss/∂field),
/// so they visit the same names in the same order as the model.
public struct ViTGradients: ParameterSet {
    /// The gradient of each parameter in the place the parameter has in a `ViT`.
    public var values: ViT

    /// All zeros for a model of `config`.
    public init(zeros config: ViTConfig) {
        values = ViT(zeros: config)
        values.setZero()
    }

    public mutating func forEachParameter(_ body: (String, inout [Float], ParameterInfo) throws -> Void) rethrows {
        try values.forEachParameter(body)
    }
}
