extension ViTBlock {
    /// Backward pass of one block, given dL/d(output) [B·T, d]; returns dL/d(input).
    ///
    ///     x1 = x0 + s₁ · ls1 ⊙ a,  a = attn(norm1(x0))
    ///     x2 = x1 + s₂ · ls2 ⊙ m,  m = mlp(norm2(x1))
    ///
    /// (s₁, s₂ the per-sample drop-path scales of the forward, 1 without drop path.)
    /// The norm outputs are recomputed from the kept activations; a and m come from the
    /// activations (kept when the block has LayerScale). Gradients accumulate into `gradients`.
    public func backward(activations acts: Activations, outputGradient: [Float], batch: Int, tokens: Int,
                         gradients: inout ViTBlock, threads: Int = 1) -> [Float] {
        let rows = batch * tokens, d = attn.dim
        // MLP branch.
        var dm = outputGradient
        if let s = acts.drop?.mlp { Self.scaleSamples(&dm, s, tokens: tokens, dim: d) }
        if let ls2 {
            let m = acts.mlpOutput.isEmpty ? mlp.output(from: acts.mlp, rows: rows) : acts.mlpOutput
            Self.accumulateGammaGradient(&gradients.ls2, dm, m, dim: d)
            Self.scaleRows(&dm, by: ls2, dim: d)
        }
        let h2 = norm2.forward(acts.afterAttention, rows: rows, threads: threads)
        let dh2 = mlp.backward(input: h2, activations: acts.mlp, outputGradient: dm, rows: rows,
                               gradients: &gradients.mlp, threads: threads)
        var dx1 = norm2.backward(input: acts.afterAttention, statistics: acts.norm2, outputGradient: dh2,
                                 rows: rows, gradients: &gradients.norm2, threads: threads)
        for i in dx1.indices { dx1[i] += outputGradient[i] }
        // Attention branch.
        var da = dx1
        if let s = acts.drop?.attention { Self.scaleSamples(&da, s, tokens: tokens, dim: d) }
        if let ls1 {
            let a = acts.attentionOutput.isEmpty
                ? attn.proj.forward(acts.attention.context, rows: rows) : acts.attentionOutput
            Self.accumulateGammaGradient(&gradients.ls1, da, a, dim: d)
            Self.scaleRows(&da, by: ls1, dim: d)
        }
        let h1 = norm1.forward(acts.input, rows: rows, threads: threads)
        let dh1 = attn.backward(input: h1, activations: acts.attention, outputGradient: da, batch: batch,
                                tokens: tokens, gradients: &gradients.attn, threads: threads)
        var dx0 = norm1.backward(input: acts.input, statistics: acts.norm1, outputGradient: dh1, rows: rows,
                                 gradients: &gradients.norm1, threads: threads)
        for i in dx0.indices { dx0[i] += dx1[i] }
        return dx0
    }

    /// ∂γ += Σ_rows dy ⊙ y.
    static func accumulateGammaGradient(_ gamma: inout [Float]?, _ dy: [Float], _ y: [Float], dim: Int) {
        guard var g = gamma else { return }
        for r in 0..<(dy.count / dim) {
            for j in 0..<dim { g[j] += dy[r * dim + j] * y[r * dim + j] }
        }
        gamma = g
    }

    /// Each row of x ⊙= γ.
    static func scaleRows(_ x: inout [Float], by gamma: [Float], dim: Int) {
        for r in 0..<(x.count / dim) {
            for j in 0..<dim { x[r * dim + j] *= gamma[j] }
        }
    }
}
