import FlowNumerics

extension ViT {
    /// Backward pass of the backbone through every layer, given dL/d(tokens) for the output of
    /// `forward(..., keepActivations: true)`.
    ///
    /// - Parameters:
    ///   - output: the forward's output, with its activations.
    ///   - tokenGradient: [B, T, dim] gradient of the final-normed tokens (cls, registers, patches);
    ///     zeros where the loss does not use a token (`ViTOutput.tokenGradient(classTokens:patchTokens:)`).
    ///   - gradients: parameter gradients, accumulated (+=) so several crops add up.
    ///   - needImageGradient: also return dL/d(images), [B, 3, H, W].
    /// - Throws: `ModelError` when the output was made without `keepActivations` or the gradient
    ///   has the wrong size.
    /// Masked patches send their gradient to `mask_token`, not to the patch embedding. At a grid
    /// other than the stored one, the position-embedding gradient goes back through the
    /// (linear) bicubic resize by its transpose. Drop path goes back through the scales the
    /// forward used (kept in the block activations).
    @discardableResult
    public func backward(_ output: ViTOutput, tokenGradient: [Float], gradients: inout ViTGradients,
                         threads: Int = 1, needImageGradient: Bool = false) throws -> [Float]? {
        guard let preNorm = output.preNorm, let stats = output.finalNorm,
              let saved = output.blockActivations, let images = output.images, saved.count == blocks.count else {
            throw ModelError("ViT.backward needs the activations of forward(keepActivations: true)")
        }
        let b = output.batch, t = output.tokenCount, d = config.dim, r = config.registers
        guard tokenGradient.count == b * t * d else {
            throw ModelError("token gradient has \(tokenGradient.count) values, expected \(b)x\(t)x\(d) = \(b * t * d)")
        }
        guard gradients.values.config.dim == d, gradients.values.blocks.count == blocks.count else {
            throw ModelError("gradient container is for \(gradients.values.config), the model is \(config)")
        }
        Numerics.setThreads(threads)
        let rows = b * t
        var dx = norm.backward(input: preNorm, statistics: stats, outputGradient: tokenGradient, rows: rows,
                               gradients: &gradients.values.norm, threads: threads)
        for i in blocks.indices.reversed() {
            dx = blocks[i].backward(activations: saved[i], outputGradient: dx, batch: b, tokens: t,
                                    gradients: &gradients.values.blocks[i], threads: threads)
        }
        // Token assembly: x = [cls + pos₀, registers, (patch or mask_token) + pos].
        let p = config.patch, gh = output.height / p, gw = output.width / p, n = gh * gw
        var dPatches = [Float](repeating: 0, count: b * n * d)
        var dPos = [Float](repeating: 0, count: (1 + n) * d)
        for img in 0..<b {
            let base = img * t * d
            for j in 0..<d {
                gradients.values.clsToken[j] += dx[base + j]
                dPos[j] += dx[base + j]
            }
            for i in 0..<(r * d) { gradients.values.registerTokens[i] += dx[base + d + i] }
            let mask = output.masks?[img]
            for k in 0..<n {
                let src = base + (1 + r + k) * d
                let masked = mask?[k] ?? false
                for j in 0..<d {
                    let g = dx[src + j]
                    dPos[d + k * d + j] += g
                    if masked { gradients.values.maskToken[j] += g } else { dPatches[(img * n + k) * d + j] = g }
                }
            }
        }
        accumulatePositionGradient(dPos, gridHeight: gh, gridWidth: gw, into: &gradients.values.posEmbed)
        let patchRows = patchEmbed.patches(images, batch: b, height: output.height, width: output.width)
        let dRows = patchEmbed.proj.backward(input: patchRows, outputGradient: dPatches, rows: b * n,
                                             gradients: &gradients.values.patchEmbed.proj,
                                             needInputGradient: needImageGradient)
        guard let dRows else { return nil }
        return patchEmbed.foldPatches(dRows, batch: b, height: output.height, width: output.width)
    }

    /// Adds the gradient of the position embeddings as used at a gh×gw grid, [1 + gh·gw, d], to
    /// the stored ones' gradient [1 + M², d]: directly when the grid is the stored one, else by
    /// the transpose of the resize (the resize is linear; its [gh·gw, M²] matrix is built from
    /// the images of the M² unit vectors, one channel at a time, as every channel is resized alike).
    func accumulatePositionGradient(_ dPos: [Float], gridHeight gh: Int, gridWidth gw: Int, into grad: inout [Float]) {
        let m = config.grid, d = config.dim
        for j in 0..<d { grad[j] += dPos[j] }
        if gh == m && gw == m {
            for i in d..<dPos.count { grad[i] += dPos[i] }
            return
        }
        let inCount = m * m, outCount = gh * gw
        var matrix = [Float](repeating: 0, count: outCount * inCount)   // [out, in]
        var unit = [Float](repeating: 0, count: inCount)
        for k in 0..<inCount {
            unit[k] = 1
            let column = PosEmbedInterpolation.resize(unit, inHeight: m, inWidth: m, dim: 1,
                                                      outHeight: gh, outWidth: gw,
                                                      offset: config.interpolateOffset,
                                                      antialias: config.interpolateAntialias)
            unit[k] = 0
            for o in 0..<outCount { matrix[o * inCount + k] = column[o] }
        }
        // grad[1..., :] [M², d] += matrixᵀ [M², out] · dPos[1..., :] [out, d]
        gemm(.transpose, .none, m: inCount, n: d, k: outCount, matrix, Block(ld: inCount),
             dPos, Block(offset: d, ld: d), beta: 1, &grad, Block(offset: d, ld: d))
    }
}

extension PatchEmbed {
    /// The adjoint of `patches`: [B·gh·gw, C·P·P] patch rows back to planar [B, C, H, W] images
    /// (patches do not overlap, so every pixel receives exactly one value).
    public func foldPatches(_ rows: [Float], batch: Int, height: Int, width: Int) -> [Float] {
        let p = patch, c = channels, gh = height / p, gw = width / p, cols = c * p * p
        var out = [Float](repeating: 0, count: batch * c * height * width)
        for b in 0..<batch {
            for gy in 0..<gh {
                for gx in 0..<gw {
                    let row = ((b * gh + gy) * gw + gx) * cols
                    for ch in 0..<c {
                        for ky in 0..<p {
                            let dst = ((b * c + ch) * height + gy * p + ky) * width + gx * p
                            let src = row + (ch * p + ky) * p
                            for kx in 0..<p { out[dst + kx] = rows[src + kx] }
                        }
                    }
                }
            }
        }
        return out
    }
}

extension ViTOutput {
    /// A [B, T, dim] token gradient from a gradient of the class tokens [B, dim] and/or of the
    /// patch tokens [B, patches, dim]; registers and omitted parts get zeros.
    public func tokenGradient(classTokens: [Float]? = nil, patchTokens: [Float]? = nil) -> [Float] {
        var g = [Float](repeating: 0, count: batch * tokenCount * dim)
        let first = 1 + registers, n = tokenCount - first
        for b in 0..<batch {
            let base = b * tokenCount * dim
            if let classTokens {
                for j in 0..<dim { g[base + j] = classTokens[b * dim + j] }
            }
            if let patchTokens {
                for i in 0..<(n * dim) { g[base + first * dim + i] = patchTokens[b * n * dim + i] }
            }
        }
        return g
    }
}
