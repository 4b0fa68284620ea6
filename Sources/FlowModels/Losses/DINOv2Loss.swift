import FlowNumerics

/// The DINOv2 training objective: DINO + iBOT + KoLeo (weights 1, 1 and KoLeo's own 0.1), as
/// assembled in dinov2/train/ssl_meta_arch.py, with the teacher-target state of both heads.
///
/// The only mutable state is the two `TeacherCentering` values (EMA centres); the struct is
/// `Codable` so a checkpoint can hold it.
public struct DINOv2Loss: Equatable, Codable, Sendable {
    public var dinoTargets: TeacherCentering
    public var ibotTargets: TeacherCentering
    public var studentTemperature: Float
    public var koleoWeight: Float

    /// Both heads with K prototypes (`ibotPrototypes` differs only with separate heads).
    public init(mode: CenteringMode, prototypes: Int, ibotPrototypes: Int? = nil,
                studentTemperature: Float = 0.1, koleoWeight: Float = 0.1) {
        dinoTargets = TeacherCentering(mode: mode, prototypes: prototypes)
        ibotTargets = TeacherCentering(mode: mode, prototypes: ibotPrototypes ?? prototypes)
        self.studentTemperature = studentTemperature
        self.koleoWeight = koleoWeight
    }

    /// The terms and the gradients of the total w.r.t. each student input.
    public struct Result: Equatable {
        public var dino: Float
        public var ibot: Float
        public var koleo: Float
        public var total: Float { dino + ibot + koleo }
        /// ∂total/∂ student DINO-head logits, [crops·B, K].
        public var studentClassLogits: Matrix
        /// ∂total/∂ student iBOT-head logits of the masked patches, [M, K].
        public var studentPatchLogits: Matrix
        /// ∂total/∂ student backbone class tokens of the global crops, [2B, d].
        public var studentClassTokens: Matrix
    }

    /// One step's loss. Teacher inputs are head logits (targets are made here, updating the
    /// centres in `.centering` mode); student inputs as in `DINOLoss`, `iBOTPatchLoss`, `KoLeoLoss`.
    ///
    /// - studentClassLogits: [crops·B, K], crop-major, the 2 global crops first.
    /// - teacherClassLogits: [2B, K], the 2 global crops in the same order.
    /// - studentPatchLogits, teacherPatchLogits: [M, K'] for the masked patches, in
    ///   `masks.maskedIndices` order.
    /// - studentClassTokens: [2B, d], the student's backbone class tokens of the global crops.
    /// - teacherTemperature: this iteration's τ_t (from the schedule; DINOv2 ramps 0.04 → 0.07).
    public mutating func evaluate(studentClassLogits: Matrix, teacherClassLogits: Matrix,
                                  studentPatchLogits: Matrix, teacherPatchLogits: Matrix, masks: MaskBatch,
                                  studentClassTokens: Matrix, teacherTemperature: Float) throws -> Result {
        guard masks.images == teacherClassLogits.rows else {
            throw ModelError("DINOv2 loss: masks cover \(masks.images) images, the teacher saw \(teacherClassLogits.rows) global crops")
        }
        let dinoTeacher = try dinoTargets.targets(teacherClassLogits, temperature: teacherTemperature)
        let dino = try DINOLoss(studentTemperature: studentTemperature).evaluate(student: studentClassLogits, teacher: dinoTeacher)
        let ibotTeacher = try ibotTargets.targets(teacherPatchLogits, temperature: teacherTemperature)
        let ibot = try iBOTPatchLoss(studentTemperature: studentTemperature)
            .evaluate(student: studentPatchLogits, teacher: ibotTeacher, patchImages: masks.patchImages, images: masks.images)
        let koleo = try KoLeoLoss(weight: koleoWeight).evaluate(studentClassTokens, crops: 2)
        return Result(dino: dino.loss, ibot: ibot.loss, koleo: koleo.loss,
                      studentClassLogits: dino.gradient, studentPatchLogits: ibot.gradient,
                      studentClassTokens: koleo.gradient)
    }
}
