import FlowFormats
import FlowModels
import FlowTestSupport
import Testing

/// The training loop at the trainer level: a run stopped, saved, loaded into a fresh trainer and
/// continued ends in the same bytes as one that never stopped; wrong checkpoints are refused.
@Suite struct PretrainTrainerTests {
    /// 8 random 16-px images.
    static let images: [ImageTensor] = {
        var rng = AugmentRNG(seed: 7)
        return (0..<8).map { _ in
            ImageTensor(channels: 3, height: 16, width: 16, data: (0..<(3 * 16 * 16)).map { _ in Float(rng.uniform()) })
        }
    }()

    static func config(_ mode: TrainingMode) throws -> PretrainConfig {
        var c = PretrainConfig(vit: try ViTConfig.preset("vit-test", patch: 4, imageSize: 16), images: 8)
        c.mode = mode
        c.localCrops = 2
        c.localSize = 8
        c.batch = 4
        c.epochs = 2
        c.prototypes = 32
        c.hidden = 32
        c.bottleneck = 16
        c.baseLR = 0.05
        c.warmup = .epochs(0.5)
        c.freezeLastLayer = .epochs(0.5)
        c.teacherTemperatureWarmup = .epochs(1)
        if mode == .distill {
            c.teacherVit = c.vit
            c.vit = ViTConfig(arch: "custom", dim: 16, depth: 1, heads: 2, patch: 4, imageSize: 16)
        }
        return c
    }

    static func trainer(_ mode: TrainingMode) throws -> Trainer {
        let c = try config(mode)
        guard mode == .distill, let t = c.teacherVit else { return try Trainer(config: c) }
        let teacher = (ViT(randomlyInitialized: t, seed: 11), DINOHead(randomlyInitialized: c.teacherHead, seed: 12))
        return try Trainer(config: c, frozenTeacher: teacher)
    }

    static func run(_ t: inout Trainer, steps: Int) throws -> [StepRecord] {
        var records: [StepRecord] = []
        for _ in 0..<steps {
            let batch = t.nextBatchIndices().map { images[$0] }
            records.append(try t.trainStep(images: batch, threads: 2))
        }
        return records
    }

    @Test(arguments: [TrainingMode.pretrain, .distill])
    func stopSaveLoadContinueGivesTheSameBytes(mode: TrainingMode) throws {
        var straight = try Self.trainer(mode)
        let initial = TrainingCheckpoint.encode(straight, includeLog: false)
        let all = try Self.run(&straight, steps: 4)
        #expect(straight.finished)
        for r in all { #expect(r.loss.isFinite, "\(r)") }
        // The run moved: the final model is not the initial one.
        let final = TrainingCheckpoint.encode(straight, includeLog: false)
        #expect(final.tensors["student.backbone.blocks.0.attn.qkv.weight"] != initial.tensors["student.backbone.blocks.0.attn.qkv.weight"])

        // Stop after 3 steps (inside the second epoch), save, load into a fresh trainer, continue.
        var first = try Self.trainer(mode)
        _ = try Self.run(&first, steps: 3)
        first.log = ["{\"step\":0}", "{\"step\":1}", "{\"step\":2}"]
        let bytes = try TrainingCheckpoint.encode(first, includeLog: true).encode()
        var resumed = try Self.trainer(mode)
        try TrainingCheckpoint.restore(&resumed, from: try SafetensorsFile.decode(bytes), source: "ck")
        #expect(resumed.step == 3 && resumed.log.count == 3)
        let rest = try Self.run(&resumed, steps: 1)
        #expect(rest == [all[3]])
        #expect(try TrainingCheckpoint.encode(resumed, includeLog: false).encode() == final.encode())
        #expect(try resumed.model.safetensors().encode() == straight.model.safetensors().encode())
    }

    @Test func aCheckpointOfAnotherConfigurationIsRefusedNamingTheSetting() throws {
        var t = try Self.trainer(.pretrain)
        _ = try Self.run(&t, steps: 1)
        let file = TrainingCheckpoint.encode(t, includeLog: true)
        var c = try Self.config(.pretrain)
        c.batch = 2
        c.prototypes = 16
        var other = try Trainer(config: c)
        #expect {
            try TrainingCheckpoint.restore(&other, from: file, source: "ck.safetensors")
        } throws: { error in
            let text = "\(error)"
            return text.contains("ck.safetensors") && text.contains("batch: checkpoint '4', this run '2'")
                && text.contains("head:")
        }
    }

    @Test func schedulesFollowTheConfiguration() throws {
        var c = try Self.config(.pretrain)
        (c.teacherTemperatureStart, c.teacherTemperatureEnd) = (0.04, 0.07)
        #expect(c.stepsPerEpoch == 2 && c.iterations == 4)
        let s = c.schedules
        // Warmup of 1 iteration is linspace(0, peak, 1) = [0]; then the cosine starts at the
        // peak lr = base·√(batch/1024).
        #expect(s.learningRate(0) == 0)
        #expect(abs(s.learningRate(1) - 0.05 * (4.0 / 1024).squareRoot()) < 1e-12)
        #expect(s.lastLayerLearningRate(0) == 0)
        #expect(abs(s.teacherTemperature(0) - 0.04) < 1e-12 && abs(s.teacherTemperature(2) - 0.07) < 1e-12)
    }

    @Test func theEpochOrderIsAPermutationDrawnOncePerEpoch() throws {
        var t = try Self.trainer(.pretrain)
        let a = t.nextBatchIndices()
        t.step = 1
        let b = t.nextBatchIndices()
        #expect(Set(a + b) == Set(0..<8))
        let firstOrder = t.order
        t.step = 2
        _ = t.nextBatchIndices()
        #expect(t.orderEpoch == 1 && t.order != firstOrder && Set(t.order) == Set(0..<8))
    }

    /// A separate iBOT head (vitl14's `ibot.separate_head`): trained, EMA'd into the teacher's,
    /// saved and restored with the rest, and a resumed run ends in the same bytes.
    @Test func separateIBOTHeadTrainsAndResumes() throws {
        var c = try Self.config(.pretrain)
        c.ibotSeparateHead = true
        (c.ibotHidden, c.ibotBottleneck, c.ibotPrototypes) = (24, 8, 20)
        var straight = try Trainer(config: c)
        let initialHead = straight.studentIBOTHead!
        #expect(initialHead.config.prototypes == 20 && straight.studentHead.config.prototypes == 32)
        #expect(straight.loss.ibotTargets.center.count == 20)
        let first = try Self.run(&straight, steps: 2)
        for r in first { #expect(r.ibot.isFinite && r.ibot > 0, "\(r)") }
        #expect(straight.studentIBOTHead! != initialHead)              // trained
        #expect(straight.teacherIBOTHead! != initialHead)              // followed by the EMA
        let saved = TrainingCheckpoint.encode(straight, includeLog: false)
        #expect(saved.tensors["student.ibot_head.last_layer.weight_v"]?.shape == [20, 8])
        #expect(saved.tensors["teacher.ibot_head.last_layer.weight_v"]?.shape == [20, 8])
        var resumed = try Trainer(config: c)
        try TrainingCheckpoint.restore(&resumed, from: saved, source: "memory")
        _ = try Self.run(&straight, steps: 2)
        _ = try Self.run(&resumed, steps: 2)
        #expect(try TrainingCheckpoint.encode(straight, includeLog: false).encode()
                == TrainingCheckpoint.encode(resumed, includeLog: false).encode())
        // A checkpoint of the shared-head run is refused for a separate-head run.
        let shared = TrainingCheckpoint.encode(try Trainer(config: try Self.config(.pretrain)), includeLog: false)
        var other = try Trainer(config: c)
        #expect(throws: CheckpointMismatch.self) { try TrainingCheckpoint.restore(&other, from: shared, source: "shared") }
        c.mode = .distill
        #expect(throws: ModelError.self) { try c.validate() }
    }
}
