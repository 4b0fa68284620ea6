import FlowFormats

/// Stochastic depth per sample, as DINOv2 trains the student (dinov2/layers/block.py and
/// drop_path.py), expressed as one scale per sample for each residual branch:
/// x ← x + s_b · γ ⊙ branch(x) for the rows of sample b.
///
/// The reference has two forms. Above a rate of 0.1 (its configs use 0.3 and 0.4) it keeps the
/// branch for a random subset of exactly max(⌊B(1 − p)⌋, 1) samples, drawn without replacement,
/// and scales it by B / kept (`drop_add_residual_stochastic_depth`); the other samples skip it.
/// At 0.1 or below each sample keeps the branch with probability 1 − p, scaled by 1/(1 − p)
/// (`drop_path`). Both have expectation 1. The teacher never drops (it runs in eval mode).
public enum DropPath {
    /// The scales of one branch for `batch` samples at rate `rate`; nil when `rate` is 0.
    public static func scales(batch: Int, rate: Double, rng: inout AugmentRNG) -> [Float]? {
        guard rate > 0, batch > 0 else { return nil }
        var out = [Float](repeating: 0, count: batch)
        if rate > 0.1 {
            let kept = max(Int(Double(batch) * (1 - rate)), 1)
            let scale = Float(Double(batch) / Double(kept))
            for i in rng.permutation(batch).prefix(kept) { out[i] = scale }
        } else {
            let scale = Float(1 / (1 - rate))
            for i in 0..<batch where !rng.bernoulli(rate) { out[i] = scale }
        }
        return out
    }

    /// The rate of each of `depth` blocks: `rate` everywhere (`drop_path_uniform`), else
    /// linspace(0, rate, depth).
    public static func rates(_ rate: Double, depth: Int, uniform: Bool) -> [Double] {
        if uniform || depth <= 1 { return [Double](repeating: uniform ? rate : 0, count: depth) }
        return (0..<depth).map { rate * Double($0) / Double(depth - 1) }
    }

    /// The scales of every block of a forward pass (attention branch, MLP branch), drawn in
    /// block order; nil when every rate is 0.
    public static func blockScales(batch: Int, rates: [Double], rng: inout AugmentRNG) -> [ViTBlock.DropScales]? {
        guard rates.contains(where: { $0 > 0 }) else { return nil }
        return rates.map { r in
            let a = scales(batch: batch, rate: r, rng: &rng)
            return ViTBlock.DropScales(attention: a, mlp: scales(batch: batch, rate: r, rng: &rng))
        }
    }
}
