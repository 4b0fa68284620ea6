import FlowNumerics

/// A DINOv2 Vision Transformer backbone (dinov2/models/vision_transformer.py, `DinoVisionTransformer`).
///
/// Tokens: `[cls] + patches`, plus `pos_embed` (interpolated to the input's patch grid), then
/// the register tokens inserted after cls (they carry no position embedding), then `depth`
/// pre-norm blocks and a final LayerNorm. Parameters are plain arrays, named and shaped as the
/// reference's state dict (see `ViT+Parameters.swift`).
public struct ViT: Equatable {
    public var config: ViTConfig
    public var patchEmbed: PatchEmbed
    /// [dim].
    public var clsToken: [Float]
    /// [1 + grid², dim] for the grid of `config.imageSize`.
    public var posEmbed: [Float]
    /// [registers, dim].
    public var registerTokens: [Float]
    /// [dim]; used only by masked training (zeros at init).
    public var maskToken: [Float]
    public var blocks: [ViTBlock]
    public var norm: LayerNorm

    /// A model of `config` with zero weights, unit LayerNorms and LayerScale at its init value.
    /// Use `ViT(randomlyInitialized:seed:)` or load parameters to get a usable model.
    public init(zeros config: ViTConfig) {
        self.config = config
        let d = config.dim
        patchEmbed = PatchEmbed(patch: config.patch, dim: d)
        clsToken = [Float](repeating: 0, count: d)
        posEmbed = [Float](repeating: 0, count: (1 + config.grid * config.grid) * d)
        registerTokens = [Float](repeating: 0, count: config.registers * d)
        maskToken = [Float](repeating: 0, count: d)
        blocks = (0..<config.depth).map { _ in
            ViTBlock(dim: d, heads: config.heads, mlpHidden: config.mlpHidden, layerScale: config.layerScale)
        }
        norm = LayerNorm(dim: d)
    }

    /// Position embeddings for a `gridHeight`×`gridWidth` patch grid, [1 + gh·gw, dim]:
    /// the stored ones when the grid matches, else the patch part resized (cls keeps its own).
    public func positionEmbeddings(gridHeight: Int, gridWidth: Int) -> [Float] {
        let m = config.grid, d = config.dim
        if gridHeight == m && gridWidth == m { return posEmbed }
        let resized = PosEmbedInterpolation.resize(
            Array(posEmbed[d...]), inHeight: m, inWidth: m, dim: d,
            outHeight: gridHeight, outWidth: gridWidth,
            offset: config.interpolateOffset, antialias: config.interpolateAntialias)
        return Array(posEmbed[0..<d]) + resized
    }

    /// Runs the backbone on `batch` planar RGB images [B, 3, H, W] (already normalised).
    ///
    /// - Parameters:
    ///   - threads: threads for OpenBLAS and the element-wise kernels (set process-wide for the call).
    ///   - keepActivations: keep every block's activations for a backward pass.
    ///   - masks: per image, one flag per patch (row-major over the grid); a masked patch's
    ///     embedding is replaced by `maskToken` before the position embedding is added (iBOT).
    ///   - drop: per block, the drop-path scales of its two branches (`DropPath.blockScales`;
    ///     training only).
    ///   - lastBlocks: also return the final-normed class tokens of the last n blocks
    ///     (`get_intermediate_layers(n, return_class_token=True)` with its norm), in
    ///     `intermediateClassTokens`; at most the depth.
    /// - Throws: `ModelError` when H or W is not a multiple of the patch size, the data size is
    ///   wrong, or the masks do not have one flag per patch for each image.
    public func forward(images: [Float], batch: Int, height: Int, width: Int, threads: Int = 1,
                        keepActivations: Bool = false, masks: [[Bool]]? = nil,
                        drop: [ViTBlock.DropScales]? = nil, lastBlocks: Int = 0) throws -> ViTOutput {
        let p = config.patch, d = config.dim, r = config.registers
        guard height > 0, width > 0, height % p == 0, width % p == 0 else {
            throw ModelError("image size \(height)x\(width) is not a multiple of the patch size \(p): resize to a multiple such as \(max(1, height / p) * p)")
        }
        guard images.count == batch * 3 * height * width else {
            throw ModelError("expected \(batch)x3x\(height)x\(width) = \(batch * 3 * height * width) values, got \(images.count)")
        }
        let gh = height / p, gw = width / p, n = gh * gw
        if let masks {
            guard masks.count == batch else {
                throw ModelError("masks given for \(masks.count) images, expected one per image (\(batch))")
            }
            if let bad = masks.firstIndex(where: { $0.count != n }) {
                throw ModelError("mask of image \(bad) has \(masks[bad].count) flags, expected one per patch (\(gh)x\(gw) = \(n))")
            }
        }
        Numerics.setThreads(threads)
        let tokens = 1 + r + n
        let patches = patchEmbed.forward(images, batch: batch, height: height, width: width)
        let pos = positionEmbeddings(gridHeight: gh, gridWidth: gw)
        var x = [Float](repeating: 0, count: batch * tokens * d)
        for b in 0..<batch {
            let base = b * tokens * d
            for j in 0..<d { x[base + j] = clsToken[j] + pos[j] }
            for i in 0..<(r * d) { x[base + d + i] = registerTokens[i] }
            let dst = base + (1 + r) * d, src = b * n * d
            for i in 0..<(n * d) { x[dst + i] = patches[src + i] + pos[d + i] }
            if let mask = masks?[b] {
                for t in 0..<n where mask[t] {
                    for j in 0..<d { x[dst + t * d + j] = maskToken[j] + pos[d + t * d + j] }
                }
            }
        }
        var saved: [ViTBlock.Activations] = []
        precondition(drop == nil || drop!.count == blocks.count, "ViT.forward: \(drop!.count) drop-path scales for \(blocks.count) blocks")
        var intermediate: [[Float]] = []
        let firstKept = blocks.count - min(max(lastBlocks, 0), blocks.count)
        for (i, block) in blocks.enumerated() {
            if let a = block.forward(&x, batch: batch, tokens: tokens, threads: threads,
                                     keepActivations: keepActivations, drop: drop?[i]) {
                saved.append(a)
            }
            if i >= firstKept && i < blocks.count - 1 {
                var cls = [Float](repeating: 0, count: batch * d)
                for b in 0..<batch { for j in 0..<d { cls[b * d + j] = x[b * tokens * d + j] } }
                intermediate.append(norm.forward(cls, rows: batch, threads: threads))
            }
        }
        let (normed, stats) = norm.forwardWithStatistics(x, rows: batch * tokens, threads: threads)
        var out = ViTOutput(batch: batch, tokenCount: tokens, dim: d, registers: r, tokens: normed,
                            preNorm: keepActivations ? x : nil, finalNorm: keepActivations ? stats : nil,
                            blockActivations: keepActivations ? saved : nil,
                            height: height, width: width, masks: masks, images: keepActivations ? images : nil)
        if lastBlocks > 0 { out.intermediateClassTokens = intermediate + [out.classTokens] }
        return out
    }
}

/// The backbone's output for a batch: the final-normed tokens and, on request, activations.
public struct ViTOutput {
    public var batch: Int
    /// Tokens per image: 1 + registers + patches.
    public var tokenCount: Int
    public var dim: Int
    public var registers: Int
    /// [B, T, dim] after the final norm: cls, then registers, then patches (x_norm in DINOv2).
    public var tokens: [Float]
    /// The last block's output before the final norm (kept with `keepActivations`).
    public var preNorm: [Float]?
    public var finalNorm: LayerNorm.Statistics?
    public var blockActivations: [ViTBlock.Activations]?
    /// The input size and masks of the forward (for the backward pass).
    public var height: Int = 0
    public var width: Int = 0
    public var masks: [[Bool]]? = nil
    /// The input images (kept with `keepActivations`, for the patch-embedding weight gradient).
    public var images: [Float]? = nil
    /// With `lastBlocks: n`: the final-normed class tokens [B, dim] of each of the last n blocks,
    /// oldest first (the last is `classTokens`).
    public var intermediateClassTokens: [[Float]]? = nil

    /// x_norm_clstoken, [B, dim].
    public var classTokens: [Float] {
        var out = [Float](repeating: 0, count: batch * dim)
        for b in 0..<batch {
            let src = b * tokenCount * dim
            for j in 0..<dim { out[b * dim + j] = tokens[src + j] }
        }
        return out
    }

    /// Mean of x_norm_patchtokens over each image's patches, [B, dim].
    public var patchTokenMean: [Float] {
        var out = [Float](repeating: 0, count: batch * dim)
        let first = 1 + registers, n = tokenCount - first
        guard n > 0 else { return out }
        for b in 0..<batch {
            for t in first..<tokenCount {
                let src = (b * tokenCount + t) * dim
                for j in 0..<dim { out[b * dim + j] += tokens[src + j] }
            }
            for j in 0..<dim { out[b * dim + j] /= Float(n) }
        }
        return out
    }
}
