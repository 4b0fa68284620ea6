/// Gradient-norm clipping as torch.nn.utils.clip_grad_norm_, applied per sub-module in DINOv2
/// (backbone, DINO head, iBOT head each clipped to 3.0 on its own).
public enum GradientClipping {
    /// The global L2 norm of all gradients in `set` (accumulated in Double).
    public static func norm<G: ParameterSet>(_ set: G) -> Double {
        var sum = 0.0
        for p in set.parameterList() {
            for g in p.values { sum += Double(g) * Double(g) }
        }
        return sum.squareRoot()
    }

    /// Scales every gradient by maxNorm / (norm + 1e-6) when that is below 1; returns the norm
    /// before clipping.
    @discardableResult
    public static func clip<G: ParameterSet>(_ set: inout G, maxNorm: Double = 3.0) -> Double {
        let total = norm(set)
        let coefficient = maxNorm / (total + 1e-6)
        if coefficient < 1 {
            let c = Float(coefficient)
            set.forEachParameter { _, values, _ in
                for i in values.indices { values[i] *= c }
            }
        }
        return total
    }
}
