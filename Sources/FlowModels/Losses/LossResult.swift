import Foundation
import FlowNumerics

/// A loss value and its gradient with respect to the tensor the loss was given (student logits
/// for DINO and iBOT, backbone class tokens for KoLeo), with the same shape as that tensor.
public struct LossResult: Equatable {
    public var loss: Float
    public var gradient: Matrix
    public init(loss: Float, gradient: Matrix) {
        self.loss = loss
        self.gradient = gradient
    }
}

/// Row-wise soft cross-entropy shared by the DINO and iBOT losses.
enum SoftCrossEntropy {
    /// For row pairs (student row `s`, teacher row `t`) of length K, adds
    /// `weight · (−Σ_k p_k · log softmax(s/τ)_k)` to the returned sum and
    /// `weight · ((Σ_k p_k) · softmax(s/τ) − p) / τ` (its gradient w.r.t. s) into `gradient`.
    /// Log-softmax is computed in Double with the row max subtracted.
    static func accumulate(student: UnsafePointer<Float>, teacher: UnsafePointer<Float>, count k: Int,
                           temperature: Float, weight: Double,
                           gradient: UnsafeMutablePointer<Float>) -> Double {
        let invT = 1 / Double(temperature)
        var m = -Double.infinity
        for j in 0..<k { m = max(m, Double(student[j]) * invT) }
        // One exp per element: the scratch row keeps exp(s/τ − m) for the gradient.
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: k) { e in
            var sumExp = 0.0, dot = 0.0, mass = 0.0
            for j in 0..<k {
                let x = Double(student[j]) * invT - m
                e[j] = Foundation.exp(x)
                sumExp += e[j]
                let p = Double(teacher[j])
                dot += p * x
                mass += p
            }
            let logSum = Foundation.log(sumExp)
            // −Σ p (x − log Σ e^x) = mass · logΣ − Σ p x
            let loss = mass * logSum - dot
            let scale = weight * invT, inv = 1 / sumExp
            for j in 0..<k {
                gradient[j] += Float(scale * (mass * e[j] * inv - Double(teacher[j])))
            }
            return weight * loss
        }
    }
}
