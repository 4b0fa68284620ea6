/// One pre-norm transformer block of DINOv2 (`NestedTensorBlock` in dinov2/layers/block.py):
///
///     x = x + ls1 ⊙ attn(norm1(x))
///     x = x + ls2 ⊙ mlp(norm2(x))
///
/// `ls1`/`ls2` are LayerScale γ vectors; nil means the block has no LayerScale (identity).
public struct ViTBlock: Equatable {
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
    }

    /// Updates `x` ([batch·tokens, d]) in place.
    public func forward(_ x: inout [Float], batch: Int, tokens: Int, threads: Int = 1,
                        keepActivations: Bool = false) -> Activations? {
        let rows = batch * tokens
        let input = keepActivations ? x : []
        let (h1, s1) = norm1.forwardWithStatistics(x, rows: rows, threads: threads)
        let (a, attnActs) = attn.forward(h1, batch: batch, tokens: tokens, threads: threads,
                                         keepActivations: keepActivations)
        Self.addScaled(&x, a, gamma: ls1, dim: attn.dim)
        let afterAttention = keepActivations ? x : []
        let (h2, s2) = norm2.forwardWithStatistics(x, rows: rows, threads: threads)
        let (m, mlpActs) = mlp.forward(h2, rows: rows, threads: threads, keepActivations: keepActivations)
        Self.addScaled(&x, m, gamma: ls2, dim: attn.dim)
        guard keepActivations, let attnActs, let mlpActs else { return nil }
        return Activations(input: input, norm1: s1, attention: attnActs, afterAttention: afterAttention,
                           norm2: s2, mlp: mlpActs, attentionOutput: ls1 == nil ? [] : a,
                           mlpOutput: ls2 == nil ? [] : m)
    }

    /// x += γ ⊙ y, row by row (γ = 1 when nil).
    static func addScaled(_ x: inout [Float], _ y: [Float], gamma: [Float]?, dim: Int) {
        let count = x.count
        x.withUnsafeMutableBufferPointer { xb in
            y.withUnsafeBufferPointer { yb in
                let xp = xb.baseAddress!, yp = yb.baseAddress!
                if let gamma {
                    gamma.withUnsafeBufferPointer { gb in
                        let g = gb.baseAddress!
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
