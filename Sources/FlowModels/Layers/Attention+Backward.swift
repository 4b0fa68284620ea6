import FlowNumerics

extension Attention {
    /// Backward pass of multi-head self-attention.
    ///
    /// Per (image, head), with S = q·kᵀ/√hd, P = softmax(S), O = P·v (all [T, ·]):
    /// dv = Pᵀ·dO; dP = dO·vᵀ; dS = P ⊙ (dP − rowsum(dP ⊙ P)); dq = dS·k/√hd; dk = dSᵀ·q/√hd,
    /// written into dqkv [B·T, 3d] in the qkv layout, then through the qkv Linear.
    /// `input` is the forward's input [B·T, d]; gradients accumulate into `gradients`.
    public func backward(input: [Float], activations: Activations, outputGradient: [Float],
                         batch: Int, tokens: Int, gradients: inout Attention, threads: Int = 1) -> [Float] {
        let rows = batch * tokens
        let dContext = proj.backward(input: activations.context, outputGradient: outputGradient, rows: rows,
                                     gradients: &gradients.proj)!
        let t = tokens, hd = headDim, d = dim, h = heads
        let scale = 1 / Float(hd).squareRoot()
        let pairs = batch * heads
        let workers = max(1, min(threads, pairs))
        var dqkv = uninitializedFloats(rows * 3 * d)   // every element written below
        var scratch = uninitializedFloats(workers * t * t)
        if workers > 1 { BLAS.setThreads(1) }
        if rows > 0 && pairs > 0 {  // otherwise there is no gradient to spread
            activations.qkv.withUnsafeBufferPointer { qb in
                activations.probabilities.withUnsafeBufferPointer { pb in
                    dContext.withUnsafeBufferPointer { ob in
                        dqkv.withUnsafeMutableBufferPointer { gb in
                            scratch.withUnsafeMutableBufferPointer { sb in
                                // Each (image, head) pair reads its own q, k, v, P and dO, writes its
                                // own dq, dk, dv columns, and uses its worker's scratch.
                                nonisolated(unsafe) let q0 = qb.start, p0 = pb.start, o0 = ob.start
                                nonisolated(unsafe) let g0 = gb.start, s0 = sb.start
                                Parallel.indexedChunks(pairs, threads: workers) { worker, range in
                                    let ds = s0 + worker * t * t
                                    for pair in range {
                                        let b = pair / h, head = pair % h
                                        let q = q0 + b * t * 3 * d + head * hd, k = q + d, v = q + 2 * d
                                        let dq = g0 + b * t * 3 * d + head * hd, dk = dq + d, dv = dq + 2 * d
                                        let p = p0 + pair * t * t
                                        let dO = o0 + b * t * d + head * hd
                                        // dv [T, hd] = Pᵀ · dO
                                        BLAS.sgemm(.transpose, .none, m: t, n: hd, k: t, a: p, lda: t,
                                                   b: dO, ldb: d, beta: 0, c: dv, ldc: 3 * d)
                                        // dP [T, T] = dO · vᵀ
                                        BLAS.sgemm(.none, .transpose, m: t, n: t, k: hd, a: dO, lda: d,
                                                   b: v, ldb: 3 * d, beta: 0, c: ds, ldc: t)
                                        // dS = P ⊙ (dP − Σ_j dP ⊙ P), row by row
                                        for r in 0..<t {
                                            let pr = p + r * t, dr = ds + r * t
                                            var dot: Float = 0
                                            for j in 0..<t { dot += pr[j] * dr[j] }
                                            for j in 0..<t { dr[j] = pr[j] * (dr[j] - dot) }
                                        }
                                        // dq = scale · dS · k;  dk = scale · dSᵀ · q
                                        BLAS.sgemm(.none, .none, m: t, n: hd, k: t, alpha: scale, a: ds, lda: t,
                                                   b: k, ldb: 3 * d, beta: 0, c: dq, ldc: 3 * d)
                                        BLAS.sgemm(.transpose, .none, m: t, n: hd, k: t, alpha: scale, a: ds, lda: t,
                                                   b: q, ldb: 3 * d, beta: 0, c: dk, ldc: 3 * d)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if workers > 1 { BLAS.setThreads(threads) }
        return qkv.backward(input: input, outputGradient: dqkv, rows: rows, gradients: &gradients.qkv)!
    }
}
