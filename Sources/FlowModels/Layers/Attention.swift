import FlowNumerics

/// Multi-head self-attention as DINOv2's `Attention` (dinov2/layers/attention.py).
///
/// qkv = Linear(d, 3d) whose output columns are laid out (3, heads, headDim); per (image, head)
/// softmax(q·kᵀ / √headDim)·v; then proj = Linear(d, d). The linear layers run on all images'
/// tokens at once ([B·T, d]); attention runs one (image, head) pair at a time with two sgemms
/// that read q, k, v in place from the qkv matrix (leading dimension 3d).
public struct Attention: Equatable {
    public var dim: Int
    public var heads: Int
    public var qkv: Linear
    public var proj: Linear

    public var headDim: Int { dim / heads }

    public init(dim: Int, heads: Int) {
        precondition(heads > 0 && dim % heads == 0, "Attention: dim \(dim) is not a multiple of heads \(heads)")
        self.dim = dim
        self.heads = heads
        qkv = Linear(inFeatures: dim, outFeatures: 3 * dim)
        proj = Linear(inFeatures: dim, outFeatures: dim)
    }

    /// What a backward pass needs, kept when `forward(keepActivations: true)`.
    public struct Activations {
        /// [B·T, 3d].
        public var qkv: [Float]
        /// Softmax probabilities, [B, heads, T, T].
        public var probabilities: [Float]
        /// Attention output before proj, [B·T, d].
        public var context: [Float]
    }

    /// [B·T, d] → [B·T, d] for `batch` images of `tokens` tokens each.
    public func forward(_ input: [Float], batch: Int, tokens: Int, threads: Int = 1,
                        keepActivations: Bool = false) -> (output: [Float], activations: Activations?) {
        let rows = batch * tokens
        let qkvOut = qkv.forward(input, rows: rows)
        var context = uninitializedFloats(rows * dim)
        let pairs = batch * heads
        let t = tokens, hd = headDim, d = dim, h = heads
        let scale = 1 / Float(hd).squareRoot()
        let workers = max(1, min(threads, pairs))
        // Inference reuses one T×T scratch per worker; training keeps every probability matrix.
        var probabilities = uninitializedFloats(keepActivations ? pairs * t * t : workers * t * t)
        if workers > 1 { BLAS.setThreads(1) }
        if rows > 0 && pairs > 0 {  // otherwise there is nothing to attend over
            qkvOut.withUnsafeBufferPointer { qb in
                context.withUnsafeMutableBufferPointer { cb in
                    probabilities.withUnsafeMutableBufferPointer { pb in
                        // Each (image, head) pair reads its q, k, v columns, writes its own context
                        // columns, and its own probabilities (training) or its worker's scratch.
                        nonisolated(unsafe) let q0 = qb.start, c0 = cb.start, p0 = pb.start
                        Parallel.indexedChunks(pairs, threads: workers) { worker, range in
                            for pair in range {
                                let b = pair / h, head = pair % h
                                let s = keepActivations ? p0 + pair * t * t : p0 + worker * t * t
                                let q = q0 + b * t * 3 * d + head * hd
                                let k = q + d
                                let v = q + 2 * d
                                BLAS.sgemm(.none, .transpose, m: t, n: t, k: hd, alpha: scale,
                                           a: q, lda: 3 * d, b: k, ldb: 3 * d, beta: 0, c: s, ldc: t)
                                FastMath.softmaxRows(s, rows: t, cols: t)
                                BLAS.sgemm(.none, .none, m: t, n: hd, k: t,
                                           a: s, lda: t, b: v, ldb: 3 * d,
                                           beta: 0, c: c0 + b * t * d + head * hd, ldc: d)
                            }
                        }
                    }
                }
            }
        }
        if workers > 1 { BLAS.setThreads(threads) }
        let output = proj.forward(context, rows: rows)
        let activations = keepActivations
            ? Activations(qkv: qkvOut, probabilities: probabilities, context: context) : nil
        return (output, activations)
    }
}
