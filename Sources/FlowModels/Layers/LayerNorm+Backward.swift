extension LayerNorm {
    /// Backward pass of y = (x − μ)·rstd ⊙ γ + β, row by row.
    ///
    /// With x̂ = (x − μ)·rstd and g = dy ⊙ γ:
    /// dx = rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂)); ∂γ += Σ_rows dy ⊙ x̂; ∂β += Σ_rows dy.
    /// `input` and `statistics` are what the forward saw and returned.
    public func backward(input: [Float], statistics: Statistics, outputGradient: [Float], rows: Int,
                         gradients: inout LayerNorm, threads: Int = 1) -> [Float] {
        precondition(input.count == rows * dim && outputGradient.count == rows * dim,
                     "LayerNorm.backward: input or gradient is not [\(rows), \(dim)]")
        let d = dim
        var dx = uninitializedFloats(rows * d)
        // Per-worker ∂γ, ∂β partial sums, added in a fixed order (deterministic).
        let workers = max(1, min(threads, rows))
        var partial = [Float](repeating: 0, count: workers * 2 * d)
        if rows > 0 && d > 0 {
            input.withUnsafeBufferPointer { xb in
                outputGradient.withUnsafeBufferPointer { gb in
                    dx.withUnsafeMutableBufferPointer { db in
                        partial.withUnsafeMutableBufferPointer { pb in
                            weight.withUnsafeBufferPointer { wb in
                                statistics.mean.withUnsafeBufferPointer { mb in
                                    statistics.rstd.withUnsafeBufferPointer { sb in
                                        // Each chunk of rows reads its rows of the inputs, writes its own
                                        // rows of `d0`, and sums into its worker's slice of `p0`.
                                        nonisolated(unsafe) let x0 = xb.start, g0 = gb.start, d0 = db.start
                                        nonisolated(unsafe) let w = wb.start, mu = mb.start, rs = sb.start
                                        nonisolated(unsafe) let p0 = pb.start
                                        Parallel.indexedChunks(rows, threads: workers) { worker, range in
                                            let dGamma = p0 + worker * 2 * d, dBeta = dGamma + d
                                            for r in range {
                                                let x = x0 + r * d, dy = g0 + r * d, out = d0 + r * d
                                                let m = mu[r], s = rs[r]
                                                var sumG: Float = 0, sumGX: Float = 0
                                                for j in 0..<d {
                                                    let xh = (x[j] - m) * s
                                                    let g = dy[j] * w[j]
                                                    sumG += g
                                                    sumGX += g * xh
                                                    dGamma[j] += dy[j] * xh
                                                    dBeta[j] += dy[j]
                                                }
                                                let meanG = sumG / Float(d), meanGX = sumGX / Float(d)
                                                for j in 0..<d {
                                                    let xh = (x[j] - m) * s
                                                    out[j] = s * (dy[j] * w[j] - meanG - xh * meanGX)
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        for worker in 0..<workers {
            let base = worker * 2 * d
            for j in 0..<d {
                gradients.weight[j] += partial[base + j]
                gradients.bias[j] += partial[base + d + j]
            }
        }
        return dx
    }
}
