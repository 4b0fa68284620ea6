import Foundation
import FlowNumerics

/// The KoLeo regulariser (dinov2/loss/koleo_loss.py), weighted and summed as in ssl_meta_arch.py:
///
///     weight · Σ_crops [ −(1/n) Σ_i log(‖x̂_i − x̂_nn(i) + eps‖ + eps) ]
///
/// on the backbone class tokens (after the final LayerNorm, before the head), each
/// L2-normalised with eps 1e-8 (`F.normalize`); nn(i) is the other row of the same crop with the
/// largest dot product (the first on ties); `+ eps` inside the norm is `nn.PairwiseDistance`'s.
/// The neighbour choice is piecewise constant, so the gradient treats it as fixed, as autograd does.
public struct KoLeoLoss: Equatable, Sendable {
    /// 0.1 in DINOv2 (`dino.koleo_loss_weight`).
    public var weight: Float
    public var eps: Float

    public init(weight: Float = 0.1, eps: Float = 1e-8) {
        self.weight = weight
        self.eps = eps
    }

    /// Loss and ∂loss/∂tokens for class tokens [crops·B, d], crop-major (each crop's B rows are
    /// one set: DINOv2 chunks the student's global class tokens in 2). Needs B ≥ 2.
    public func evaluate(_ tokens: Matrix, crops: Int = 2) throws -> LossResult {
        guard crops > 0, tokens.rows % crops == 0, tokens.rows / crops >= 2 else {
            throw ModelError("KoLeo: \(tokens.rows) class tokens do not split into \(crops) crops of at least 2 (a nearest neighbour needs 2 samples)")
        }
        let n = tokens.rows / crops, d = tokens.cols
        let e = Double(eps)
        // x̂ = x / max(‖x‖, eps), in Double.
        var norms = [Double](repeating: 0, count: tokens.rows)
        var unit = [Double](repeating: 0, count: tokens.data.count)
        for r in 0..<tokens.rows {
            var ss = 0.0
            for j in 0..<d { ss += Double(tokens.data[r * d + j]) * Double(tokens.data[r * d + j]) }
            norms[r] = ss.squareRoot()
            let inv = 1 / max(norms[r], e)
            for j in 0..<d { unit[r * d + j] = Double(tokens.data[r * d + j]) * inv }
        }
        var gUnit = [Double](repeating: 0, count: unit.count)
        var total = 0.0
        var diff = [Double](repeating: 0, count: d)
        for c in 0..<crops {
            let base = c * n
            for i in 0..<n {
                let a = (base + i) * d
                var best = -1, bestDot = -Double.infinity
                for j in 0..<n where j != i {
                    var dot = 0.0
                    for t in 0..<d { dot += unit[a + t] * unit[(base + j) * d + t] }
                    if dot > bestDot { bestDot = dot; best = j }
                }
                let bOff = (base + best) * d
                var ss = 0.0
                for t in 0..<d { diff[t] = unit[a + t] - unit[bOff + t] + e; ss += diff[t] * diff[t] }
                let dist = ss.squareRoot()
                total -= Foundation.log(dist + e) / Double(n)
                // ∂/∂dist = −1/(n(dist + eps)); ∂dist/∂x̂_i = diff/dist = −∂dist/∂x̂_nn.
                let scale = -1 / (Double(n) * (dist + e) * max(dist, .leastNormalMagnitude))
                for t in 0..<d {
                    gUnit[a + t] += scale * diff[t]
                    gUnit[bOff + t] -= scale * diff[t]
                }
            }
        }
        // Back through the normalisation: dx = (g − (g·x̂) x̂)/‖x‖ above eps, g/eps below.
        var gradient = Matrix(rows: tokens.rows, cols: d)
        let w = Double(weight)
        for r in 0..<tokens.rows {
            let o = r * d
            if norms[r] > e {
                var dot = 0.0
                for t in 0..<d { dot += gUnit[o + t] * unit[o + t] }
                for t in 0..<d { gradient.data[o + t] = Float(w * (gUnit[o + t] - dot * unit[o + t]) / norms[r]) }
            } else {
                for t in 0..<d { gradient.data[o + t] = Float(w * gUnit[o + t] / e) }
            }
        }
        return LossResult(loss: Float(w * total), gradient: gradient)
    }
}
