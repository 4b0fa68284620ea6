/// The shape of a DINOv2 Vision Transformer.
///
/// Stored in a checkpoint's safetensors `__metadata__` (see `metadata`) and inferred from the
/// tensor shapes when a checkpoint has none (a converted DINOv2 backbone).
public struct ViTConfig: Equatable, Sendable, CustomStringConvertible {
    /// A preset name ("vit-small", ...) or "custom".
    public var arch: String
    public var dim: Int
    public var depth: Int
    public var heads: Int
    /// Hidden width of the MLP (4·dim in DINOv2's S/B/L MLP models).
    public var mlpHidden: Int
    public var patch: Int
    /// The image size the position embeddings were built for (224 in training, 518 in the
    /// released backbones); other sizes interpolate them.
    public var imageSize: Int
    /// Register tokens (0 or 4 in DINOv2).
    public var registers: Int
    /// LayerScale γ initial value; nil for blocks without LayerScale.
    public var layerScale: Float?
    /// The "0.1 kludge" added to the target grid size in pos-embed interpolation (0.1 for the
    /// plain models, 0 for the reg4 models, which interpolate to a size instead).
    public var interpolateOffset: Float
    /// Antialiased bicubic pos-embed interpolation (true for the reg4 models).
    public var interpolateAntialias: Bool

    public var headDim: Int { dim / heads }
    /// Patches per side at `imageSize`.
    public var grid: Int { imageSize / patch }

    /// (dim, depth, heads) of each preset. `vit-test` is for unit tests.
    public static let presets: [(name: String, dim: Int, depth: Int, heads: Int)] = [
        ("vit-test", 32, 2, 2),
        ("vit-tiny", 192, 12, 3),
        ("vit-small", 384, 12, 6),
        ("vit-base", 768, 12, 12),
        ("vit-large", 1024, 24, 16),
    ]

    public init(arch: String = "custom", dim: Int, depth: Int, heads: Int, mlpHidden: Int? = nil,
                patch: Int, imageSize: Int, registers: Int = 0, layerScale: Float? = 1e-5,
                interpolateOffset: Float? = nil, interpolateAntialias: Bool? = nil) {
        self.arch = arch
        self.dim = dim
        self.depth = depth
        self.heads = heads
        self.mlpHidden = mlpHidden ?? 4 * dim
        self.patch = patch
        self.imageSize = imageSize
        self.registers = registers
        self.layerScale = layerScale
        // DINOv2's hub: reg models interpolate by size with antialias, the others with the kludge.
        self.interpolateOffset = interpolateOffset ?? (registers > 0 ? 0 : 0.1)
        self.interpolateAntialias = interpolateAntialias ?? (registers > 0)
    }

    /// A preset by name (`vit-small` or `vit_small`; `vits` style names are not accepted).
    public static func preset(_ name: String, patch: Int, imageSize: Int, registers: Int = 0,
                              layerScale: Float? = 1e-5) throws -> ViTConfig {
        let key = String(name.lowercased().map { $0 == "_" ? "-" : $0 })
        guard let p = presets.first(where: { $0.name == key }) else {
            throw ModelError("unknown architecture '\(name)': use one of \(presets.map(\.name).joined(separator: ", "))")
        }
        let config = ViTConfig(arch: p.name, dim: p.dim, depth: p.depth, heads: p.heads, patch: patch,
                               imageSize: imageSize, registers: registers, layerScale: layerScale)
        try config.validate()
        return config
    }

    /// Checks the sizes fit together; the message says which one to change.
    public func validate() throws {
        guard dim > 0, depth > 0, heads > 0, mlpHidden > 0 else {
            throw ModelError("dim, depth, heads and MLP width must be positive (got dim \(dim), depth \(depth), heads \(heads), mlp \(mlpHidden))")
        }
        guard dim % heads == 0 else { throw ModelError("dim \(dim) is not a multiple of heads \(heads)") }
        guard patch > 0 else { throw ModelError("patch size must be positive (got \(patch))") }
        guard imageSize > 0, imageSize % patch == 0 else {
            throw ModelError("image size \(imageSize) is not a multiple of the patch size \(patch): use a multiple, e.g. \(max(1, imageSize / patch) * patch)")
        }
        guard registers >= 0 else { throw ModelError("registers must be ≥ 0 (got \(registers))") }
    }

    public var description: String {
        "\(arch) (dim \(dim), depth \(depth), heads \(heads), mlp \(mlpHidden), patch \(patch), image \(imageSize), registers \(registers))"
    }

    /// Floating-point operations of one forward pass on one `height`×`width` image
    /// (2 per multiply-add of the matrix products; element-wise work not counted).
    public func forwardFLOPs(height: Int, width: Int) -> Double {
        let n = Double((height / patch) * (width / patch))
        let t = n + 1 + Double(registers)
        let d = Double(dim), h = Double(mlpHidden)
        let patchEmbed = 2 * n * Double(3 * patch * patch) * d
        let linear = 2 * t * (3 * d * d + d * d + 2 * d * h)
        let attention = 2 * 2 * t * t * d
        return patchEmbed + Double(depth) * (linear + attention)
    }
}

extension ViTConfig {
    /// The safetensors `__metadata__` entries that describe this architecture.
    public var metadata: [String: String] {
        var m = [
            "format": "flow-vit",
            "arch": arch,
            "dim": String(dim),
            "depth": String(depth),
            "heads": String(heads),
            "mlp_hidden": String(mlpHidden),
            "patch": String(patch),
            "image_size": String(imageSize),
            "registers": String(registers),
            "interpolate_offset": String(interpolateOffset),
            "interpolate_antialias": interpolateAntialias ? "true" : "false",
        ]
        if let layerScale { m["layerscale"] = String(layerScale) }
        return m
    }
}
