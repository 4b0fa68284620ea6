// flow op distill: a (smaller) student learns from a frozen teacher, DINOv2 §5.
import ArgumentParser
import Foundation
import FlowFormats
import FlowModels

/// `flow op distill`: the pretraining loop with a frozen teacher, no masking, iBOT on every
/// patch token of the global crops, and a spare EMA of the student as the output model.
struct DistillOp: FlowOp {
    static let configuration = CommandConfiguration(
        commandName: "distill",
        abstract: "Distil a frozen ViT teacher into a student backbone (DINOv2 §5; see docs/pretraining.md).",
        discussion: """
        The teacher (--teacher, a backbone) is frozen. Its head comes from --teacher-state (the \
        --state-out of pretrain, whose teacher head is used, with its sizes); without it, a \
        seeded random head is used and frozen. The student (--arch with --dim/--depth/--heads) \
        must have the teacher's patch and image size. No masking: iBOT compares every patch \
        token of the global crops. --model-out is the EMA of the student backbone. Options, \
        checkpoints and resume are those of pretrain.
        """)
    // 2: crops clamped to [0, 1]; default lr 0.005 and teacher temperature 0.02.
    // 3: warmup, last-layer freeze and teacher-temperature ramp as fractions of the run
    //    (0.1, 0.01, 0.3) by default instead of 1, 1 and 3 epochs; --recipe.
    static let version = 3

    @OptionGroup var training: TrainingOptions

    @Option(help: "The teacher backbone (.safetensors, e.g. pretrain's --model-out).")
    var teacher: String

    @Option(name: .customLong("teacher-state"), help: "pretrain's --state-out, for the teacher's trained head.")
    var teacherState: String?

    func run() throws {
        let data = try TrainingData.load(training.data)
        var config = try training.config(images: data.count, op: "distill")
        config.mode = .distill
        if config.ibotSeparateHead {
            FileHandle.standardError.write(Data("flow op distill: recipe \(training.recipe): not applied: ibot.separate_head true (distillation compares the patch tokens through the teacher's DINO head)\n".utf8))
            config.ibotSeparateHead = false
        }
        let teacherVit = try TrainingModels.backbone(teacher, option: "--teacher", expected: nil)
        config.teacherVit = teacherVit.config
        if teacherVit.config.patch != config.vit.patch || teacherVit.config.imageSize != config.vit.imageSize {
            throw OpError("--teacher \(teacher): tensor 'patch_embed.proj.weight' has shape [\(teacherVit.config.dim), 3, \(teacherVit.config.patch), \(teacherVit.config.patch)] and 'pos_embed' [1, \(1 + teacherVit.config.grid * teacherVit.config.grid), \(teacherVit.config.dim)] (patch \(teacherVit.config.patch), image size \(teacherVit.config.imageSize)); the student has --patch \(config.vit.patch) --image-size \(config.vit.imageSize): pass the teacher's")
        }
        var head: DINOHead
        if let teacherState {
            head = try Self.teacherHead(teacherState, inputDim: teacherVit.config.dim)
            config.hidden = head.config.hidden
            config.bottleneck = head.config.bottleneck
            config.prototypes = head.config.prototypes
        } else {
            FileHandle.standardError.write(Data("flow op distill: no --teacher-state: the teacher's head is a frozen random projection (seed \(training.seed))\n".utf8))
            head = DINOHead(randomlyInitialized: config.teacherHead, seed: training.seed &+ 2)
        }
        do { try config.validate() } catch let e as ModelError { throw OpError("--data \(training.data): \(e.message)") }
        var trainer = try Trainer(config: config, frozenTeacher: (teacherVit, head))
        try TrainingLoop(name: "distill", options: training, data: data).run(&trainer)
    }

    /// The teacher head `teacher.dino_head.*` of a pretrain state, its sizes read from the shapes.
    static func teacherHead(_ path: String, inputDim: Int) throws -> DINOHead {
        let file: SafetensorsFile
        do { file = try SafetensorsFile.read(path: path) } catch {
            throw OpError("--teacher-state \(path): cannot read: \(error)")
        }
        let p = "teacher.dino_head."
        guard let w1 = file.tensors[p + "mlp.0.weight"]?.shape, let w3 = file.tensors[p + "mlp.4.weight"]?.shape,
              let v = file.tensors[p + "last_layer.weight_v"]?.shape, w1.count == 2, w3.count == 2, v.count == 2 else {
            throw OpError("--teacher-state \(path): no tensors '\(p)mlp.0.weight', '\(p)mlp.4.weight', '\(p)last_layer.weight_v': not the --state-out of pretrain")
        }
        guard w1[1] == inputDim else {
            throw OpError("--teacher-state \(path): tensor '\(p)mlp.0.weight' has shape \(w1), the teacher backbone's width \(inputDim) needs [\(w1[0]), \(inputDim)]: the state belongs to another teacher")
        }
        var head = DINOHead(zeros: DINOHeadConfig(inputDim: inputDim, hidden: w1[0], bottleneck: w3[0], prototypes: v[0]))
        do { try head.load(from: file.tensors, prefix: p, source: path) } catch let e as ModelError {
            throw OpError("--teacher-state \(e.message)")
        }
        return head
    }
}
