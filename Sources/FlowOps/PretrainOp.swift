// flow op pretrain: DINOv2 self-supervised pretraining of a ViT on the images of shards.
import ArgumentParser
import Foundation
import FlowModels

/// `flow op pretrain`: DINO + iBOT + KoLeo with an EMA teacher, multi-crop and block masks,
/// AdamW and the DINOv2 schedules; checkpoints and exact resume under `checkpoint`.
struct PretrainOp: FlowOp {
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract: "DINOv2 self-supervised pretraining of a ViT backbone (see docs/pretraining.md).",
        discussion: """
        Each step takes --batch images in a seeded per-epoch order, makes 2 global and \
        --local-crops local crops of each (DINOv2's augmentations), masks blocks of patches in \
        a fraction of the global crops, and trains the student against the EMA teacher with the \
        DINO, iBOT and KoLeo losses. Writes the teacher backbone (--model-out, loadable by embed, \
        eval-knn, eval-linear), the whole training state (--state-out) and one JSON line per \
        step (--log). Declared with `checkpoint` in a .dag, it checkpoints into \
        FLOW_CHECKPOINT_DIR at each epoch end, every --checkpoint-every steps and on SIGTERM, \
        and resumes from there: an interrupted run ends in the same bytes as an uninterrupted \
        one (same seed and threads).
        """)
    // 2: crops clamped to [0, 1]; default lr 0.005 and teacher temperature 0.02.
    // 3: warmup, last-layer freeze and teacher-temperature ramp as fractions of the run
    //    (0.1, 0.01, 0.3) by default instead of 1, 1 and 3 epochs; --recipe.
    static let version = 3

    @OptionGroup var training: TrainingOptions

    @Option(help: "Start the student (and teacher) from this backbone instead of a random initialisation.")
    var `init`: String?

    @Option(name: .customLong("mask-ratio"), help: "Range of the masked fraction of a masked global crop, as LO,HI. Default: \(Recipe.smallCPU.maskRatio.lowerBound),\(Recipe.smallCPU.maskRatio.upperBound).")
    var maskRatio: String?

    @Option(name: .customLong("mask-probability"), help: "Fraction of the global crops that get a mask. Default: \(Recipe.smallCPU.maskProbability).")
    var maskProbability: Double?

    func validate() throws {
        if let maskRatio { _ = try TrainingOptions.range(maskRatio, option: "--mask-ratio") }
    }

    func run() throws {
        let data = try TrainingData.load(training.data)
        var config = try training.config(images: data.count, op: "pretrain")
        if let maskRatio { config.maskRatio = try TrainingOptions.range(maskRatio, option: "--mask-ratio") }
        if let maskProbability { config.maskProbability = maskProbability }
        do { try config.validate() } catch let e as ModelError { throw OpError("--data \(training.data): \(e.message)") }
        let initial = try `init`.map { try TrainingModels.backbone($0, option: "--init", expected: config.vit) }
        var trainer = try Trainer(config: config, initial: initial)
        try TrainingLoop(name: "pretrain", options: training, data: data).run(&trainer)
    }
}
