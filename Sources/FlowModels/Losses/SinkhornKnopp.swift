import Foundation
import FlowNumerics

/// Sinkhorn-Knopp teacher targets (`sinkhorn_knopp_teacher` in dinov2/loss/*.py).
///
/// With logits [B, K] (B samples, K prototypes), let Q = exp(logits/τ)ᵀ (K×B). Q is divided
/// by its total, then `iterations` times: each prototype row is divided by its sum and by K,
/// each sample column by its sum and by B; finally Q is multiplied by B. Returned as [B, K]
/// (Qᵀ): every sample row sums to 1 exactly (the last step), every prototype column to about
/// B/K (exactly in the limit of many iterations).
///
/// A *global* max of logits/τ is subtracted before exp; it cancels in the first normalisation,
/// so the result is the reference's whenever the reference does not overflow. Computed in Double.
public enum SinkhornKnopp {
    /// DINOv2 uses 3 iterations for both the DINO and the iBOT targets.
    public static let defaultIterations = 3

    /// Targets for `logits` ([B, K]); for iBOT, B is the number of masked patches.
    public static func targets(_ logits: Matrix, temperature: Float, iterations: Int = defaultIterations) -> Matrix {
        let b = logits.rows, k = logits.cols
        var out = Matrix(rows: b, cols: k)
        if b == 0 || k == 0 { return out }
        let invT = 1 / Double(temperature)
        var m = -Double.infinity
        for v in logits.data { m = max(m, Double(v) * invT) }
        var q = [Double](repeating: 0, count: b * k)      // [B, K]
        var protoScale = [Double](repeating: 0, count: k)
        logits.data.withUnsafeBufferPointer { t in
            q.withUnsafeMutableBufferPointer { q in
                var total = 0.0
                for i in 0..<(b * k) { q[i] = Foundation.exp(Double(t[i]) * invT - m); total += q[i] }
                let invTotal = 1 / total
                for i in 0..<(b * k) { q[i] *= invTotal }
                for _ in 0..<iterations {
                    // Prototype marginals (rows of the K×B view): each → 1/K.
                    for j in 0..<k { protoScale[j] = 0 }
                    for r in 0..<b { for j in 0..<k { protoScale[j] += q[r * k + j] } }
                    for j in 0..<k { protoScale[j] = 1 / (protoScale[j] * Double(k)) }
                    // Then sample marginals (columns of the K×B view): each → 1/B.
                    for r in 0..<b {
                        var s = 0.0
                        for j in 0..<k { q[r * k + j] *= protoScale[j]; s += q[r * k + j] }
                        let inv = 1 / (s * Double(b))
                        for j in 0..<k { q[r * k + j] *= inv }
                    }
                }
            }
        }
        for i in q.indices { out.data[i] = Float(q[i] * Double(b)) }
        return out
    }
}
