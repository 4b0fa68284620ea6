import FlowNumerics

/// The DINO class-token loss (dinov2/loss/dino_clstoken_loss.py, assembled as in
/// dinov2/train/ssl_meta_arch.py), generalised from 2 global + 8 local crops to any count.
///
/// Every (teacher global crop i, student crop j) pair with j ≠ i contributes the batch mean of
/// −Σ_k p_t · log softmax(s/τ_s); the sum is divided by the number of such pairs
/// (2 globals × all crops − 2; 18 for 2 + 8). The teacher targets carry no gradient.
public struct DINOLoss: Equatable, Sendable {
    /// τ_s, 0.1 in DINOv2.
    public var studentTemperature: Float
    /// The number of global crops (2): the teacher sees only these.
    public var globalCrops: Int

    public init(studentTemperature: Float = 0.1, globalCrops: Int = 2) {
        self.studentTemperature = studentTemperature
        self.globalCrops = globalCrops
    }

    /// The number of (teacher, student) pairs for `crops` student crops in total.
    public func pairCount(crops: Int) -> Int { globalCrops * crops - globalCrops }

    /// Loss and ∂loss/∂student.
    ///
    /// - student: head logits [crops·B, K], crop-major: rows c·B ..< (c+1)·B are crop c; the
    ///   first `globalCrops` crops are the global ones, in the teacher's order.
    /// - teacher: target distributions [globalCrops·B, K] (from `TeacherCentering.targets`),
    ///   crop-major, rows in the same sample order.
    public func evaluate(student: Matrix, teacher: Matrix) throws -> LossResult {
        let k = student.cols
        guard k > 0 else { throw ModelError("DINO loss: the logits have no prototypes") }
        guard teacher.cols == k else {
            throw ModelError("DINO loss: student logits have \(k) prototypes, teacher targets \(teacher.cols)")
        }
        guard globalCrops > 0, teacher.rows % globalCrops == 0 else {
            throw ModelError("DINO loss: \(teacher.rows) teacher rows do not split into \(globalCrops) global crops")
        }
        let b = teacher.rows / globalCrops
        guard b > 0, student.rows % b == 0 else {
            throw ModelError("DINO loss: \(student.rows) student rows are not a whole number of crops of batch \(b)")
        }
        let crops = student.rows / b
        let pairs = pairCount(crops: crops)
        guard crops >= globalCrops, pairs > 0 else {
            throw ModelError("DINO loss: \(crops) student crops give no (teacher, other crop) pair; need at least \(globalCrops) crops and 2 in all")
        }
        let weight = 1 / Double(pairs * b)
        var gradient = Matrix(rows: student.rows, cols: k)
        var total = 0.0
        student.data.withUnsafeBufferPointer { s in
            teacher.data.withUnsafeBufferPointer { t in
                gradient.data.withUnsafeMutableBufferPointer { g in
                    for j in 0..<crops {
                        for i in 0..<globalCrops where i != j {
                            for r in 0..<b {
                                let srow = (j * b + r) * k, trow = (i * b + r) * k
                                total += SoftCrossEntropy.accumulate(
                                    student: s.start + srow, teacher: t.start + trow, count: k,
                                    temperature: studentTemperature, weight: weight, gradient: g.start + srow)
                            }
                        }
                    }
                }
            }
        }
        return LossResult(loss: Float(total), gradient: gradient)
    }
}
