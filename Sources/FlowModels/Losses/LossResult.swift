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
        var sumExp = 0.0
        for j in 0..<k { sumExp += Foundation.exp(Double(student[j]) * invT - m) }
        let logZ = m + Foundation.log(sumExp)
        var loss = 0.0, mass = 0.0
        for j in 0..<k {
            let p = Double(teacher[j])
            loss -= p * (Double(student[j]) * invT - logZ)
            mass += p
        }
        for j in 0..<k {
            let q = Foundation.exp(Double(student[j]) * invT - logZ)
            gradient[j] += Float(weight * (mass * q - Double(teacher[j])) * invT)
        }
        return weight * loss
    }
}
