import FlowNumerics

/// The iBOT masked-patch loss (`iBOTPatchLoss.forward_masked` in dinov2/loss/ibot_patch_loss.py,
/// scaled as in ssl_meta_arch.py: loss_scales 2 × ibot_loss_scale ½ = 1).
///
/// Over the M masked patches of the 2B global crops: each contributes
/// −Σ_k p_t · log softmax(s/τ_s), weighted by 1/(number of masked patches in its image);
/// the weighted sum is divided by the number of global-crop images, 2B, masked or not.
/// The teacher targets carry no gradient.
public struct iBOTPatchLoss: Equatable, Sendable {
    /// τ_s, 0.1 in DINOv2.
    public var studentTemperature: Float

    public init(studentTemperature: Float = 0.1) { self.studentTemperature = studentTemperature }

    /// Loss and ∂loss/∂student.
    ///
    /// - student, teacher: [M, K] student logits and teacher targets of the masked patches.
    /// - patchImages: [M], the global-crop image (in 0 ..< images) each masked patch belongs to
    ///   (`MaskBatch.patchImages`).
    /// - images: the number of global-crop images, 2B.
    public func evaluate(student: Matrix, teacher: Matrix, patchImages: [Int], images: Int) throws -> LossResult {
        let m = student.rows, k = student.cols
        guard teacher.rows == m, teacher.cols == k else {
            throw ModelError("iBOT loss: student logits are \(m)x\(k), teacher targets \(teacher.rows)x\(teacher.cols)")
        }
        guard patchImages.count == m else {
            throw ModelError("iBOT loss: \(m) masked patches but \(patchImages.count) image indices")
        }
        guard images > 0 else { throw ModelError("iBOT loss: the batch has no global-crop images") }
        guard k > 0 else { throw ModelError("iBOT loss: the logits have no prototypes") }
        var perImage = [Int](repeating: 0, count: images)
        for (row, image) in patchImages.enumerated() {
            guard image >= 0 && image < images else {
                throw ModelError("iBOT loss: masked patch \(row) belongs to image \(image), outside 0..<\(images)")
            }
            perImage[image] += 1
        }
        var gradient = Matrix(rows: m, cols: k)
        var total = 0.0
        student.data.withUnsafeBufferPointer { s in
            teacher.data.withUnsafeBufferPointer { t in
                gradient.data.withUnsafeMutableBufferPointer { g in
                    for r in 0..<m {
                        let weight = 1 / (Double(max(perImage[patchImages[r]], 1)) * Double(images))
                        total += SoftCrossEntropy.accumulate(
                            student: s.start + r * k, teacher: t.start + r * k, count: k,
                            temperature: studentTemperature, weight: weight, gradient: g.start + r * k)
                    }
                }
            }
        }
        return LossResult(loss: Float(total), gradient: gradient)
    }
}
