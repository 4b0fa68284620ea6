/// A float32 tensor by shape, as stored under one name in a checkpoint.
public struct NamedTensor: Equatable {
    public var shape: [Int]
    public var values: [Float]
    public init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }
}

extension ViT {
    /// Every parameter under the DINOv2 reference state-dict name, in a stable order.
    /// `register_tokens` appears only for models with registers; `mask_token` always (zeros at init).
    public func namedParameters() -> [(name: String, tensor: NamedTensor)] {
        let c = config, d = c.dim, p = c.patch
        var out: [(String, NamedTensor)] = [
            ("cls_token", NamedTensor(shape: [1, 1, d], values: clsToken)),
            ("pos_embed", NamedTensor(shape: [1, 1 + c.grid * c.grid, d], values: posEmbed)),
            ("mask_token", NamedTensor(shape: [1, d], values: maskToken)),
        ]
        if c.registers > 0 {
            out.append(("register_tokens", NamedTensor(shape: [1, c.registers, d], values: registerTokens)))
        }
        out.append(("patch_embed.proj.weight", NamedTensor(shape: [d, 3, p, p], values: patchEmbed.proj.weight)))
        out.append(("patch_embed.proj.bias", NamedTensor(shape: [d], values: patchEmbed.proj.bias)))
        for (i, b) in blocks.enumerated() {
            let n = "blocks.\(i)."
            out.append((n + "norm1.weight", NamedTensor(shape: [d], values: b.norm1.weight)))
            out.append((n + "norm1.bias", NamedTensor(shape: [d], values: b.norm1.bias)))
            out.append((n + "attn.qkv.weight", NamedTensor(shape: [3 * d, d], values: b.attn.qkv.weight)))
            out.append((n + "attn.qkv.bias", NamedTensor(shape: [3 * d], values: b.attn.qkv.bias)))
            out.append((n + "attn.proj.weight", NamedTensor(shape: [d, d], values: b.attn.proj.weight)))
            out.append((n + "attn.proj.bias", NamedTensor(shape: [d], values: b.attn.proj.bias)))
            if let g = b.ls1 { out.append((n + "ls1.gamma", NamedTensor(shape: [d], values: g))) }
            out.append((n + "norm2.weight", NamedTensor(shape: [d], values: b.norm2.weight)))
            out.append((n + "norm2.bias", NamedTensor(shape: [d], values: b.norm2.bias)))
            let h = c.mlpHidden
            out.append((n + "mlp.fc1.weight", NamedTensor(shape: [h, d], values: b.mlp.fc1.weight)))
            out.append((n + "mlp.fc1.bias", NamedTensor(shape: [h], values: b.mlp.fc1.bias)))
            out.append((n + "mlp.fc2.weight", NamedTensor(shape: [d, h], values: b.mlp.fc2.weight)))
            out.append((n + "mlp.fc2.bias", NamedTensor(shape: [d], values: b.mlp.fc2.bias)))
            if let g = b.ls2 { out.append((n + "ls2.gamma", NamedTensor(shape: [d], values: g))) }
        }
        out.append(("norm.weight", NamedTensor(shape: [d], values: norm.weight)))
        out.append(("norm.bias", NamedTensor(shape: [d], values: norm.bias)))
        return out
    }

    /// Builds a model from reference-named tensors (as `strict=True` loading in PyTorch).
    ///
    /// The architecture comes from `metadata` (see `ViTConfig.metadata`) when present, else it is
    /// inferred from the shapes (heads = dim/64, DINOv2's head size). Names are normalised first:
    /// a `module.`/`backbone.` prefix is dropped and chunked names `blocks.C.I.` become `blocks.I.`.
    /// A missing or extra tensor or a wrong shape throws, naming `source`, the tensor and both shapes;
    /// `mask_token` is optional. With `expecting`, a checkpoint of another architecture is refused.
    public init(parameters raw: [String: NamedTensor], metadata: [String: String] = [:],
                source: String, expecting expected: ViTConfig? = nil) throws {
        var parameters: [String: NamedTensor] = [:]
        for (name, t) in raw { parameters[ViT.canonicalName(name)] = t }
        let config = try ViT.inferConfig(shapes: parameters.mapValues(\.shape), metadata: metadata, source: source)
        if let expected {
            let mismatch = [("dim", expected.dim, config.dim), ("depth", expected.depth, config.depth),
                            ("heads", expected.heads, config.heads), ("patch", expected.patch, config.patch),
                            ("registers", expected.registers, config.registers),
                            ("mlp width", expected.mlpHidden, config.mlpHidden)]
                .filter { $0.1 != $0.2 }
            if !mismatch.isEmpty {
                let what = mismatch.map { "\($0.0) \($0.2) (expected \($0.1))" }.joined(separator: ", ")
                throw ModelError("\(source): checkpoint of another architecture: \(config) — \(what)")
            }
        }
        var model = ViT(zeros: config)
        if parameters["mask_token"] == nil {
            parameters["mask_token"] = NamedTensor(shape: [1, config.dim], values: model.maskToken)
        }
        let expectedNames = model.namedParameters()
        for (name, want) in expectedNames {
            guard let got = parameters[name] else {
                throw ModelError("\(source): missing tensor '\(name)' (shape \(want.shape)) for \(config)")
            }
            // A mask_token may be stored as [1, d] or [d].
            let sameShape = got.shape == want.shape || (name == "mask_token" && got.values.count == config.dim)
            guard sameShape, got.values.count == want.values.count else {
                throw ModelError("\(source): tensor '\(name)' has shape \(got.shape), expected \(want.shape) for \(config)")
            }
        }
        let known = Set(expectedNames.map(\.name))
        if let extra = parameters.keys.sorted().first(where: { !known.contains($0) }) {
            throw ModelError("\(source): unexpected tensor '\(extra)' for \(config): not a DINOv2 ViT backbone of this shape (strip heads and other modules before loading)")
        }
        func v(_ name: String) -> [Float] { parameters[name]?.values ?? [] }
        model.clsToken = v("cls_token")
        model.posEmbed = v("pos_embed")
        model.maskToken = v("mask_token")
        if config.registers > 0 { model.registerTokens = v("register_tokens") }
        model.patchEmbed.proj.weight = v("patch_embed.proj.weight")
        model.patchEmbed.proj.bias = v("patch_embed.proj.bias")
        for i in 0..<config.depth {
            let n = "blocks.\(i)."
            model.blocks[i].norm1.weight = v(n + "norm1.weight")
            model.blocks[i].norm1.bias = v(n + "norm1.bias")
            model.blocks[i].attn.qkv.weight = v(n + "attn.qkv.weight")
            model.blocks[i].attn.qkv.bias = v(n + "attn.qkv.bias")
            model.blocks[i].attn.proj.weight = v(n + "attn.proj.weight")
            model.blocks[i].attn.proj.bias = v(n + "attn.proj.bias")
            if config.layerScale != nil {
                model.blocks[i].ls1 = v(n + "ls1.gamma")
                model.blocks[i].ls2 = v(n + "ls2.gamma")
            }
            model.blocks[i].norm2.weight = v(n + "norm2.weight")
            model.blocks[i].norm2.bias = v(n + "norm2.bias")
            model.blocks[i].mlp.fc1.weight = v(n + "mlp.fc1.weight")
            model.blocks[i].mlp.fc1.bias = v(n + "mlp.fc1.bias")
            model.blocks[i].mlp.fc2.weight = v(n + "mlp.fc2.weight")
            model.blocks[i].mlp.fc2.bias = v(n + "mlp.fc2.bias")
        }
        model.norm.weight = v("norm.weight")
        model.norm.bias = v("norm.bias")
        self = model
    }

    /// `module.`/`backbone.` prefixes dropped; `blocks.C.I.rest` (block chunks) → `blocks.I.rest`.
    static func canonicalName(_ raw: String) -> String {
        var name = Substring(raw)
        for prefix in ["module.", "backbone."] where name.hasPrefix(prefix) { name = name.dropFirst(prefix.count) }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count > 3, parts[0] == "blocks", Int(parts[1]) != nil, Int(parts[2]) != nil {
            return (["blocks"] + parts[2...]).joined(separator: ".")
        }
        return String(name)
    }

    /// The architecture of a checkpoint: from its metadata, cross-checked against (or, without
    /// metadata, inferred from) the tensor shapes.
    public static func inferConfig(shapes: [String: [Int]], metadata: [String: String],
                                   source: String) throws -> ViTConfig {
        func need(_ name: String) throws -> [Int] {
            guard let s = shapes[name] else {
                throw ModelError("\(source): no tensor '\(name)': not a DINOv2 ViT backbone checkpoint (expected names like cls_token, pos_embed, blocks.0.attn.qkv.weight)")
            }
            return s
        }
        if shapes.keys.contains(where: { $0.hasSuffix("mlp.w12.weight") }) {
            throw ModelError("\(source): this checkpoint uses the SwiGLU feed-forward (mlp.w12/w3: ViT-L/g trained from scratch), which flow's ViT does not implement; use an MLP (distilled) backbone")
        }
        let cls = try need("cls_token")
        let proj = try need("patch_embed.proj.weight")
        let pos = try need("pos_embed")
        let fc1 = try need("blocks.0.mlp.fc1.weight")
        guard let dim = cls.last, cls.reduce(1, *) == dim, dim > 0 else {
            throw ModelError("\(source): cls_token has shape \(cls), expected [1, 1, dim]")
        }
        guard proj.count == 4, proj[0] == dim, proj[1] == 3, proj[2] == proj[3], proj[2] > 0 else {
            throw ModelError("\(source): patch_embed.proj.weight has shape \(proj), expected [\(dim), 3, P, P]")
        }
        let patch = proj[2]
        guard pos.count == 3, pos[2] == dim, pos[1] >= 2 else {
            throw ModelError("\(source): pos_embed has shape \(pos), expected [1, 1 + grid², \(dim)]")
        }
        let grid = Int(Double(pos[1] - 1).squareRoot().rounded())
        guard grid * grid == pos[1] - 1 else {
            throw ModelError("\(source): pos_embed has \(pos[1] - 1) patch positions, not a square grid")
        }
        let depth = Set(shapes.keys.compactMap { name -> Int? in
            let parts = name.split(separator: ".")
            return parts.count > 2 && parts[0] == "blocks" ? Int(parts[1]) : nil
        }).count
        let registers = shapes["register_tokens"].map { $0.count == 3 ? $0[1] : -1 } ?? 0
        guard registers >= 0 else {
            throw ModelError("\(source): register_tokens has shape \(shapes["register_tokens"] ?? []), expected [1, R, \(dim)]")
        }
        let hasLayerScale = shapes["blocks.0.ls1.gamma"] != nil
        func int(_ key: String) throws -> Int? {
            guard let s = metadata[key] else { return nil }
            guard let v = Int(s) else { throw ModelError("\(source): metadata '\(key)' is '\(s)', not an integer") }
            return v
        }
        let heads = try int("heads") ?? (dim % 64 == 0 ? dim / 64 : 0)
        guard heads > 0 else {
            throw ModelError("\(source): cannot tell the number of heads for dim \(dim) (not a multiple of DINOv2's head size 64) and the metadata has no 'heads'")
        }
        let offset = metadata["interpolate_offset"].flatMap(Float.init)
        let antialias = metadata["interpolate_antialias"].map { $0 == "true" }
        let layerScale: Float? = hasLayerScale ? (metadata["layerscale"].flatMap(Float.init) ?? 1e-5) : nil
        let preset = ViTConfig.presets.first { $0.dim == dim && $0.depth == depth && $0.heads == heads }
        var config = ViTConfig(arch: metadata["arch"] ?? preset?.name ?? "custom", dim: dim, depth: depth,
                               heads: heads, mlpHidden: fc1.first, patch: patch, imageSize: grid * patch,
                               registers: registers, layerScale: layerScale,
                               interpolateOffset: offset, interpolateAntialias: antialias)
        // Metadata that contradicts the shapes means a mislabelled or corrupted checkpoint.
        let claims: [(String, Int)] = [("dim", dim), ("depth", depth), ("patch", patch),
                                       ("image_size", grid * patch), ("registers", registers),
                                       ("mlp_hidden", config.mlpHidden)]
        for (key, actual) in claims {
            if let said = try int(key), said != actual {
                throw ModelError("\(source): metadata says \(key) = \(said) but the tensors give \(actual): checkpoint of another architecture or corrupted")
            }
        }
        if let said = try int("image_size") { config.imageSize = said }
        try config.validate()
        return config
    }
}
