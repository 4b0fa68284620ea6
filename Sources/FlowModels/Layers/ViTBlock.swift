/// One pre-norm transformer block of DINOv2 (`NestedTensorBlock` in dinov2/layers/block.py):
///
///     x = x + ls1 ⊙ attn(norm1(x))
///     x = x + ls2 ⊙ mlp(norm2(x))
///
/// `ls1`/`ls2` are LayerScale γ vectors; nil means the block has no LayerScale (identity).
/// With drop path (training only) each branch's output is also scaled per sample (`DropScales`).
public struct ViTBlock: Equatable {
    /// Per-sample scales of the two residual branches ([batch] each; nil = 1), from `DropPath`.
    public struct DropScales: Equatable, Sendable {
        public var attention: [Float]?
        public var mlp: [Float]?
        public init(attention: [Float]?, mlp: [Float]?) {
            self.attention = attention
            self.mlp = mlp
        }
    }

    public var norm1: LayerNorm
    public var attn: Attention
    public var ls1: [Float]?
    public var norm2: LayerNorm
    public var mlp: MLP
    public var ls2: [Float]?

    public init(dim: Int, heads: Int, mlpHidden: Int, layerScale: Float?) {
        norm1 = LayerNorm(dim: dim)
        attn = Attention(dim: dim, heads: heads)
        norm2 = LayerNorm(dim: dim)
        mlp = MLP(dim: dim, hidden: mlpHidden)
        ls1 = layerScale.map { [Float](repeating: $0, count: dim) }
        ls2 = ls1
    }

    /// Everything a backward pass through this block needs.
    public struct Activations {
        /// The block's input, [B·T, d].
        public var input: [Float]
        public var norm1: LayerNorm.Statistics
        public var attention: Attention.Activations
        /// x after the attention residual (norm2's input), [B·T, d].
        public var afterAttention: [Float]
        public var norm2: LayerNorm.Statistics
        public var mlp: MLP.Activations
        /// attn(norm1(x)) and mlp(norm2(x)) before LayerScale, [B·T, d]; kept only when the
        /// block has LayerScale (γ's gradient needs them), else empty.
        public var attentionOutput: [Float] = []
        public var mlpOutput: [Float] = []
        /// The drop-path scales the forward used (nil: none).
        public var drop: DropScales? = nil
    }

    /// Updates `x` ([batch·tokens, d]) in place; `drop` scales each branch per sample.
    public func forward(_ x: inout [Float], batch: Int, tokens: Int, threads: Int = 1,
                        keepActivations: Bool = false, drop: DropScales? = nil) -> Activations? {
        let rows = batch * tokens
        let input = keepActivations ? x : []
        let (h1, s1) = norm1.forwardWithStatistics(x, rows: rows, threads: threads)
        var (a, attnActs) = attn.forward(h1, batch: batch, tokens: tokens, threads: threads,
                                         keepActivations: keepActivations)
        let keptA = ls1 == nil || !keepActivations ? [] : a
        if let s = drop?.attention { Self.scaleSamples(&a, s, tokens: tokens, dim: attn.dim) }
        Self.addScaled(&x, a, gamma: ls1, dim: attn.dim)
        let afterAttention = keepActivations ? x : []
        let (h2, s2) = norm2.forwardWithStatistics(x, rows: rows, threads: threads)
        var (m, mlpActs) = mlp.forward(h2, rows: rows, threads: threads, keepActivations: keepActivations)
        let keptM = ls2 == nil || !keepActivations ? [] : m
        if let s = drop?.mlp { Self.scaleSamples(&m, s, tokens: tokens, dim: attn.dim) }
        Self.addScaled(&x, m, gamma: ls2, dim: attn.dim)
        guard keepActivations, let attnActs, let mlpActs else { return nil }
        return Activations(input: input, norm1: s1, attention: attnActs, afterAttention: afterAttention,
                           norm2: s2, mlp: mlpActs, attentionOutput: keptA, mlpOutput: keptM, drop: drop)
    }

    /// The rows of sample b (tokens rows each) ⊙= scales[b].
    static func scaleSamples(_ y: inout [Float], _ scales: [Float], tokens: Int, dim: Int) {
        let per = tokens * dim
        for (b, s) in scales.enumerated() where s != 1 {
            for i in (b * per)..<((b + 1) * per) { y[i] *= s }
        }
    }

    /// x += γ ⊙ y, row by row (γ = 1 when nil).
    static func addScaled(_ x: inout [Float], _ y: [Float], gamma: [Float]?, dim: Int) {
        let count = x.count
        if count == 0 { return }
        x.withUnsafeMutableBufferPointer { xb in
            y.withUnsafeBufferPointer { yb in
                let xp = xb.start, yp = yb.start
                if let gamma {
                    gamma.withUnsafeBufferPointer { gb in
                        let g = gb.start
                        for r in 0..<(count / dim) {
                            let xr = xp + r * dim, yr = yp + r * dim
                            for j in 0..<dim { xr[j] += g[j] * yr[j] }
                        }
                    }
                } else {
                    for i in 0..<count { xp[i] += yp[i] }
                }
            }
        }
    }
}
