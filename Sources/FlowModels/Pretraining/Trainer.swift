import FlowFormats

/// The whole state of a DINOv2 training run, and the loop's position in it.
///
/// Everything random comes from seeded generators whose state is stored here (the mask and
/// data-order generators) or derived from the seed and the step (each image's crops), and every
/// reduction runs in a fixed order, so that a run stopped after k steps, saved with
/// `TrainingCheckpoint`, loaded into a fresh trainer and continued ends in the same bytes as a
/// run that never stopped (for the same thread count).
///
/// Pretraining: `teacher`/`teacherHead` are the EMA of `student`/`studentHead`, and the final
/// model is the teacher's backbone. Distillation: the teacher is frozen, and `average` (a spare
/// EMA of the student backbone, with the momentum schedule) is the final model.
/// The DINO head is shared with iBOT, as in DINOv2's default config (`separate_head: false`).
public struct Trainer {
    public var config: PretrainConfig
    public let schedules: TrainingSchedules
    public var student: ViT
    public var studentHead: DINOHead
    public var teacher: ViT
    public var teacherHead: DINOHead
    /// The separate iBOT heads (`config.ibotSeparateHead`); nil: the DINO heads serve iBOT.
    public var studentIBOTHead: DINOHead?
    public var teacherIBOTHead: DINOHead?
    /// Distillation only: the EMA of the student backbone.
    public var average: ViT?
    public var optimizer: AdamW
    /// The two teacher-target states (EMA centres in `.centering` mode).
    public var loss: DINOv2Loss
    /// Optimizer steps taken; the next step is `step` (0-based), of epoch `step / stepsPerEpoch`.
    public var step = 0
    public var maskRNG: AugmentRNG
    public var orderRNG: AugmentRNG
    /// The data order of epoch `orderEpoch` (−1: none drawn yet): a permutation of the images.
    public var order: [Int] = []
    public var orderEpoch = -1
    /// The log so far, one JSON object per step (kept in checkpoints, not in the final state).
    public var log: [String] = []
    /// When true, each step keeps its crops and masks in `lastStepInputs` (for dumping them).
    public var keepsStepInputs = false
    public var lastStepInputs: StepInputs?

    /// A fresh run: the student from `initial` (or randomly initialised from the seed), the head
    /// randomly initialised; in pretraining the teacher starts as a copy of the student.
    /// In distillation `frozenTeacher` and its head are required.
    public init(config: PretrainConfig, initial: ViT? = nil,
                frozenTeacher: (backbone: ViT, head: DINOHead)? = nil) throws {
        try config.validate()
        self.config = config
        schedules = config.schedules
        student = initial ?? ViT(randomlyInitialized: config.vit, seed: config.seed)
        studentHead = DINOHead(randomlyInitialized: config.studentHead, seed: config.seed &+ 1)
        studentIBOTHead = config.ibotSeparateHead ? DINOHead(randomlyInitialized: config.ibotHead, seed: config.seed &+ 3) : nil
        teacherIBOTHead = studentIBOTHead
        switch config.mode {
        case .pretrain:
            teacher = student
            teacherHead = studentHead
            average = nil
        case .distill:
            guard let frozenTeacher else { throw ModelError("distillation needs a teacher") }
            teacher = frozenTeacher.backbone
            teacherHead = frozenTeacher.head
            average = student
        }
        optimizer = AdamW(layerDecay: config.layerDecay, patchEmbedLRMultiplier: config.patchEmbedLRMultiplier)
        loss = DINOv2Loss(mode: config.centering, prototypes: config.prototypes,
                          ibotPrototypes: config.ibotSeparateHead ? config.ibotPrototypes : nil, koleoWeight: config.koleo)
        maskRNG = AugmentRNG(seed: config.seed, index: 0x6D61_736B)       // "mask"
        orderRNG = AugmentRNG(seed: config.seed, index: 0x6F72_6465_72)   // "order"
    }

    /// Seed of the per-image crop generators.
    var cropSeed: UInt64 { config.seed ^ 0x6372_6F70 }

    public var finished: Bool { step >= config.iterations }
    public var epoch: Int { step / max(1, config.stepsPerEpoch) }

    /// The final model: the teacher backbone (pretraining) or the student's EMA (distillation).
    public var model: ViT { average ?? teacher }

    /// The data indices of the next step's batch, drawing the epoch's order when it starts.
    public mutating func nextBatchIndices() -> [Int] {
        let e = epoch
        if orderEpoch != e {
            order = orderRNG.permutation(config.images)
            orderEpoch = e
        }
        let position = step % config.stepsPerEpoch
        return Array(order[(position * config.batch)..<((position + 1) * config.batch)])
    }
}

/// One optimizer step's numbers, as written to the training log.
public struct StepRecord: Equatable, Sendable {
    public var step: Int
    public var epoch: Int
    public var dino: Float
    public var ibot: Float
    public var koleo: Float
    public var loss: Float { dino + ibot + koleo }
    public var values: ScheduleValues
    /// Gradient norms before clipping: backbone, head.
    public var backboneGradNorm: Double
    public var headGradNorm: Double
}

/// A step whose loss or gradient is NaN or infinite: the model is not updated.
public struct TrainingDiverged: Error, CustomStringConvertible {
    public var step: Int
    public var terms: String
    public var description: String {
        "training diverged at step \(step + 1) (counting from 1, as the log): \(terms) is not finite; the model was not updated. Lower --lr (or lengthen --warmup) and rerun; the last checkpoint holds the state before this step"
    }
}
