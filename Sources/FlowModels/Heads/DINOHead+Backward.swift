import Foundation
import FlowNumerics

/// Gradients of a `DINOHead`'s parameters, held in a head-shaped value: every field of
/// `values` is ∂loss/∂(that field), so they line up name for name with the head.
public struct DINOHeadGradients: Equatable {
    public var values: DINOHead

    /// All zeros for a head of `config` (including `lastLayerG`).
    public init(zeros config: DINOHeadConfig) {
        values = DINOHead(zeros: config)
        values.lastLayerG = [Float](repeating: 0, count: config.prototypes)
    }
}

extension DINOHead {
    /// Backpropagates ∂loss/∂logits ([rows, K]) through the head.
    ///
    /// Returns ∂loss/∂input ([rows, d]) and the parameter gradients. The L2 normalisation is
    /// differentiated as `F.normalize` (x / max(‖x‖, eps)), the weight norm as PyTorch's
    /// `_weight_norm` (g · v / ‖v‖, no eps), GELU exactly (Φ(x) + x·φ(x)).
    public func backward(_ gradOutput: [Float], activations a: Activations) -> (input: [Float], gradients: DINOHeadGradients) {
        let rows = a.rows, b = config.bottleneck, k = config.prototypes
        precondition(gradOutput.count == rows * k, "DINOHead.backward: gradient is not [\(rows), \(k)]")
        var grads = DINOHeadGradients(zeros: config)

        // Last layer: out = z · Wᵀ.  dW = dOutᵀ z [K, b]; dz = dOut · W [rows, b].
        var dW = [Float](repeating: 0, count: k * b)
        gemm(.transpose, .none, m: k, n: b, k: rows, gradOutput, Block(ld: k), a.normalized, Block(ld: b), &dW, Block(ld: b))
        var dz = [Float](repeating: 0, count: rows * b)
        gemm(.none, .none, m: rows, n: b, k: k, gradOutput, Block(ld: k), a.lastWeight, Block(ld: b), &dz, Block(ld: b))

        // Weight norm, per prototype: dg = (dW·v)/‖v‖; dv = (g/‖v‖)·dW − (g·dg/‖v‖²)·v.
        for p in 0..<k {
            var ss: Float = 0, dot: Float = 0
            for j in 0..<b {
                let v = lastLayerV[p * b + j]
                ss += v * v
                dot += dW[p * b + j] * v
            }
            let n = ss.squareRoot()
            let dg = dot / n
            grads.values.lastLayerG[p] = dg
            let g = lastLayerG[p]
            for j in 0..<b {
                grads.values.lastLayerV[p * b + j] = g / n * dW[p * b + j] - g * dg / (n * n) * lastLayerV[p * b + j]
            }
        }

        // L2 normalisation: dy = (dz − (dz·z) z) / ‖y‖ above eps, dz / eps below.
        var dy = dz
        for r in 0..<rows {
            let n = a.norms[r]
            if n > DINOHead.normalizeEps {
                var dot: Float = 0
                for j in 0..<b { dot += dz[r * b + j] * a.normalized[r * b + j] }
                for j in 0..<b { dy[r * b + j] = (dz[r * b + j] - dot * a.normalized[r * b + j]) / n }
            } else {
                for j in 0..<b { dy[r * b + j] = dz[r * b + j] / DINOHead.normalizeEps }
            }
        }

        var d2 = linearBackward(fc3, dy, input: a.act2, rows: rows, into: &grads.values.fc3)
        geluBackward(&d2, pre: a.pre2)
        var d1 = linearBackward(fc2, d2, input: a.act1, rows: rows, into: &grads.values.fc2)
        geluBackward(&d1, pre: a.pre1)
        let dInput = linearBackward(fc1, d1, input: a.input, rows: rows, into: &grads.values.fc1)
        return (dInput, grads)
    }
}

/// y = x·Wᵀ + b backwards: writes dW = dYᵀ·X and db = Σ_rows dY into `grad`, returns dX = dY·W.
private func linearBackward(_ layer: Linear, _ dY: [Float], input: [Float], rows: Int, into grad: inout Linear) -> [Float] {
    let o = layer.outFeatures, i = layer.inFeatures
    gemm(.transpose, .none, m: o, n: i, k: rows, dY, Block(ld: o), input, Block(ld: i), &grad.weight, Block(ld: i))
    for r in 0..<rows { for j in 0..<o { grad.bias[j] += dY[r * o + j] } }
    var dX = [Float](repeating: 0, count: rows * i)
    gemm(.none, .none, m: rows, n: i, k: o, dY, Block(ld: o), layer.weight, Block(ld: i), &dX, Block(ld: i))
    return dX
}

/// Multiplies `grad` by GELU'(pre) = Φ(x) + x·φ(x) element-wise.
private func geluBackward(_ grad: inout [Float], pre: [Float]) {
    let invSqrt2: Float = 0.707_106_781_186_547_6, invSqrt2Pi: Float = 0.398_942_280_401_432_7
    for i in grad.indices {
        let x = pre[i]
        let cdf = 0.5 * (1 + FastMath.erf(x * invSqrt2))
        let pdf = invSqrt2Pi * FastMath.exp(-0.5 * x * x)
        grad[i] *= cdf + x * pdf
    }
}
