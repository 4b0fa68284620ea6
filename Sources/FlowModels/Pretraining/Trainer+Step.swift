import FlowFormats
import FlowNumerics

extension Trainer {
    /// One optimizer step on the batch `images` (the decoded images of `nextBatchIndices()`, in
    /// that order), following dinov2/train/ssl_meta_arch.py:
    ///
    /// 1. multi-crop every image (2 global + L local views); draw the block masks of the global
    ///    crops (pretraining) or select every patch (distillation);
    /// 2. teacher: backbone on the global crops (unmasked), head on their class tokens and on the
    ///    patch tokens the iBOT loss uses; no gradient;
    /// 3. student: backbone on the (masked) global crops and on the local crops, one head pass on
    ///    [global cls; local cls; selected patch tokens];
    /// 4. DINO + iBOT + KoLeo (`DINOv2Loss`), backward through head and backbone;
    /// 5. clip the backbone and the head to `config.clip` each, AdamW, then the EMA.
    ///
    /// `given` replaces this step's crops and masks (a debugging aid: `flow op pretrain
    /// --replay-inputs`, and the reference check); `images` is then not used, and the masks drawn
    /// as usual are discarded.
    ///
    /// - Throws: `TrainingDiverged` (before any update) when a loss term or gradient norm is not finite.
    public mutating func trainStep(images: [ImageTensor], threads: Int, given: StepInputs? = nil) throws -> StepRecord {
        let v = schedules.values(at: step)
        var s = try forwardBackward(images: images, threads: threads, given: given)
        let backboneNorm = GradientClipping.clip(&s.backbone, maxNorm: config.clip)
        let headNorm = GradientClipping.clip(&s.head, maxNorm: config.clip)
        // The separate iBOT head is a module of its own: clipped on its own, as the reference clips each.
        let ibotNorm = s.ibotHead.map { _ in GradientClipping.clip(&s.ibotHead!, maxNorm: config.clip) } ?? 0
        guard backboneNorm.isFinite, headNorm.isFinite, ibotNorm.isFinite else {
            throw TrainingDiverged(step: step, terms: "the gradient norm (backbone \(backboneNorm), head \(headNorm)\(s.ibotHead == nil ? "" : ", iBOT head \(ibotNorm)"); loss dino \(s.dino), ibot \(s.ibot), koleo \(s.koleo))")
        }

        let frozenG = studentHead.lastLayerG, frozenIBOTG = studentIBOTHead?.lastLayerG
        optimizer.beginStep()
        try optimizer.update(&student, gradients: s.backbone, lr: v.learningRate, weightDecay: v.weightDecay, prefix: "backbone.")
        try optimizer.update(&studentHead, gradients: s.head, lr: v.learningRate, weightDecay: v.weightDecay,
                             lastLayerLR: v.lastLayerLearningRate, prefix: "dino_head.")
        if let g = s.ibotHead {
            try optimizer.update(&studentIBOTHead!, gradients: g, lr: v.learningRate, weightDecay: v.weightDecay,
                                 lastLayerLR: v.lastLayerLearningRate, prefix: "ibot_head.")
        }
        // A frozen g gets neither gradient nor weight decay (its gradient is 0 already).
        if !config.trainLastLayerG {
            studentHead.lastLayerG = frozenG
            if let frozenIBOTG { studentIBOTHead!.lastLayerG = frozenIBOTG }
        }
        switch config.mode {
        case .pretrain:
            try EMA.update(teacher: &teacher, student: student, momentum: v.teacherMomentum)
            try EMA.update(teacher: &teacherHead, student: studentHead, momentum: v.teacherMomentum)
            if let h = studentIBOTHead { try EMA.update(teacher: &teacherIBOTHead!, student: h, momentum: v.teacherMomentum) }
        case .distill:
            try EMA.update(teacher: &average!, student: student, momentum: v.teacherMomentum)
        }
        let record = StepRecord(step: step, epoch: epoch, dino: s.dino, ibot: s.ibot, koleo: s.koleo,
                                values: v, backboneGradNorm: backboneNorm, headGradNorm: headNorm)
        step += 1
        return record
    }

    /// Steps 1–4 of `trainStep` without any update: the loss terms of this step's batch and
    /// their gradients with respect to every student parameter (before clipping). Draws this
    /// step's masks from `maskRNG` and updates the EMA centres, as the step does; a copy of the
    /// trainer gives the same crops, masks and teacher targets, which is what a whole-step
    /// finite-difference check needs.
    public mutating func forwardBackward(images: [ImageTensor], threads: Int, given: StepInputs? = nil) throws -> StepGradients {
        let b = config.batch, l = config.localCrops, g = config.vit.imageSize, s = config.localSize
        let v = schedules.values(at: step)
        let grid = g / config.vit.patch, n = grid * grid
        // The masks are drawn even when given ones replace them, so that the generator's state,
        // and every later step, stays that of a run without replacement.
        var masks: MaskBatch
        switch config.mode {
        case .pretrain:
            masks = MaskGenerator(height: grid, width: grid)
                .batch(images: 2 * b, probability: config.maskProbability, ratio: config.maskRatio, rng: &maskRNG)
        case .distill:
            masks = MaskBatch.allPatches(images: 2 * b, patches: n)
        }
        let crops: CropBatch
        if let given {
            try given.check(batch: b, localCrops: l, globalSize: g, localSize: s, patches: n)
            (crops, masks) = (given.crops, given.masks)
        } else {
            precondition(images.count == b, "trainStep: \(images.count) images for a batch of \(b)")
            crops = CropBatch(images: images, multiCrop: config.multiCrop, seed: cropSeed,
                              firstIndex: step * b, threads: threads)
        }
        if keepsStepInputs { lastStepInputs = StepInputs(crops: crops, masks: masks) }
        let m = masks.maskedIndices.count, k = config.prototypes

        // Teacher: [2B cls; M patches] through its head.  [2B + M, K]
        let tOut = try teacher.forward(images: crops.globals, batch: 2 * b, height: g, width: g, threads: threads)
        let tPatches = masks.gatherMasked(tOut.patchTokens, dim: teacher.config.dim)
        let teacherClass: Matrix, teacherPatch: Matrix, tLogits: [Float]
        if let ibotHead = teacherIBOTHead {
            // Separate heads: the DINO head on the class tokens, the iBOT head on the patches.
            let cls = teacherHead.forward(tOut.classTokens, rows: 2 * b).output
            let patch = ibotHead.forward(tPatches, rows: m).output
            teacherClass = try Matrix(rows: 2 * b, cols: k, data: cls)
            teacherPatch = try Matrix(rows: m, cols: ibotHead.config.prototypes, data: patch)
            tLogits = cls + patch
        } else {
            tLogits = teacherHead.forward(tOut.classTokens + tPatches, rows: 2 * b + m).output
            teacherClass = try Matrix(rows: 2 * b, cols: k, data: Array(tLogits[0..<(2 * b * k)]))
            teacherPatch = try Matrix(rows: m, cols: k, data: Array(tLogits[(2 * b * k)...]))
        }

        // Student: masked globals, locals, one head pass.  [2B + LB + M, K]
        let d = student.config.dim
        // Drop path: the student only, its own generator per step (no state to checkpoint),
        // drawn for the global crops' pass, then the local crops' (the reference's list forward).
        var dropRNG = AugmentRNG(seed: config.seed ^ 0x6472_6F70, index: UInt64(step))   // "drop"
        let rates = DropPath.rates(config.dropPath, depth: student.blocks.count, uniform: config.dropPathUniform)
        let sg = try student.forward(images: crops.globals, batch: 2 * b, height: g, width: g, threads: threads,
                                     keepActivations: true, masks: config.mode == .pretrain ? masks.perImage : nil,
                                     drop: DropPath.blockScales(batch: 2 * b, rates: rates, rng: &dropRNG))
        let sl = l > 0 ? try student.forward(images: crops.locals, batch: l * b, height: s, width: s,
                                             threads: threads, keepActivations: true,
                                             drop: DropPath.blockScales(batch: l * b, rates: rates, rng: &dropRNG)) : nil
        let globalCls = sg.classTokens
        let classRows = (2 + l) * b
        let sPatches = masks.gatherMasked(sg.patchTokens, dim: d)
        // One DINO-head pass on [global cls; local cls; masked patches], or with a separate iBOT
        // head, the DINO head on the class tokens and the iBOT head on the patches.
        let separate = studentIBOTHead != nil
        let sIn = globalCls + (sl?.classTokens ?? []) + (separate ? [] : sPatches)
        let (headOut, activations) = studentHead.forward(sIn, rows: separate ? classRows : classRows + m, keepActivations: true)
        let ibotPass = studentIBOTHead.map { $0.forward(sPatches, rows: m, keepActivations: true) }
        let sLogits = headOut + (ibotPass?.output ?? [])
        let patchK = studentIBOTHead?.config.prototypes ?? k
        // Non-finite activations would reach the losses (KoLeo's nearest neighbour is undefined).
        // Crops come from decoded images and the augmentation alone: not finite there is not
        // divergence, so it gets its own message.
        for (what, values) in [("global crops", crops.globals), ("local crops", crops.locals)] where !values.allSatisfy(\.isFinite) {
            throw ModelError("step \(step + 1): the \(what) of the batch hold NaN or infinite pixels before any model ran, so the images or the augmentation are at fault (not the learning rate); nothing was updated, the last checkpoint is intact. Please report it with the data and the settings.")
        }
        let checks: [(String, [Float])] = [
            ("student class tokens", globalCls), ("student local class tokens", sl?.classTokens ?? []),
            ("student patch tokens", sg.patchTokens), ("teacher head output", tLogits), ("student head output", sLogits),
        ]
        for (what, values) in checks where !values.allSatisfy(\.isFinite) {
            throw TrainingDiverged(step: step, terms: "the \(what) (so every loss: dino, ibot, koleo)")
        }
        let result = try loss.evaluate(
            studentClassLogits: Matrix(rows: classRows, cols: k, data: Array(sLogits[0..<(classRows * k)])),
            teacherClassLogits: teacherClass,
            studentPatchLogits: Matrix(rows: m, cols: patchK, data: Array(sLogits[(classRows * k)...])),
            teacherPatchLogits: teacherPatch, masks: masks,
            studentClassTokens: Matrix(rows: 2 * b, cols: d, data: globalCls),
            teacherTemperature: v.teacherTemperature)
        let terms = [("dino", result.dino), ("ibot", result.ibot), ("koleo", result.koleo)]
        if let bad = terms.first(where: { !$0.1.isFinite }) {
            throw TrainingDiverged(step: step, terms: "loss \(bad.0) (dino \(result.dino), ibot \(result.ibot), koleo \(result.koleo))")
        }

        // Backward: head, then the backbone once per crop size (gradients accumulate).
        var (dIn, headGradients) = studentHead.backward(result.studentClassLogits.data + (separate ? [] : result.studentPatchLogits.data),
                                                        activations: activations!)
        var ibotGradients: DINOHeadGradients? = nil
        if let ibotHead = studentIBOTHead, let ibotPass {
            let (dPatch, g) = ibotHead.backward(result.studentPatchLogits.data, activations: ibotPass.activations!)
            dIn += dPatch
            ibotGradients = g
        }
        var dGlobalCls = Array(dIn[0..<(2 * b * d)])
        for i in dGlobalCls.indices { dGlobalCls[i] += result.studentClassTokens.data[i] }
        let dPatches = masks.scatterMasked(Array(dIn[(classRows * d)...]), dim: d)
        var grads = ViTGradients(zeros: student.config)
        try student.backward(sg, tokenGradient: sg.tokenGradient(classTokens: dGlobalCls, patchTokens: dPatches),
                             gradients: &grads, threads: threads)
        if let sl {
            let dLocal = Array(dIn[(2 * b * d)..<(classRows * d)])
            try student.backward(sl, tokenGradient: sl.tokenGradient(classTokens: dLocal), gradients: &grads, threads: threads)
        }
        var headGrads = headGradients
        if !config.trainLastLayerG {
            for i in headGrads.values.lastLayerG.indices { headGrads.values.lastLayerG[i] = 0 }
            if ibotGradients != nil {
                for i in ibotGradients!.values.lastLayerG.indices { ibotGradients!.values.lastLayerG[i] = 0 }
            }
        }
        return StepGradients(dino: result.dino, ibot: result.ibot, koleo: result.koleo,
                             backbone: grads, head: headGrads, ibotHead: ibotGradients)
    }
}

/// The loss terms of one step and the unclipped gradients of the student's parameters.
/// The crops and masks of one step, as `forwardBackward` feeds them to the models: to look at
/// (`Trainer.lastStepInputs`, `flow op pretrain --dump-inputs`) or to replay (`given`).
public struct StepInputs {
    public var crops: CropBatch
    /// Pretraining: the block masks of the 2B global crops; distillation: every patch.
    public var masks: MaskBatch

    public init(crops: CropBatch, masks: MaskBatch) {
        self.crops = crops
        self.masks = masks
    }

    func check(batch b: Int, localCrops l: Int, globalSize g: Int, localSize s: Int, patches n: Int) throws {
        guard crops.batch == b, crops.globals.count == 2 * b * 3 * g * g, crops.locals.count == l * b * 3 * s * s else {
            throw ModelError("given step inputs hold \(crops.globals.count) global and \(crops.locals.count) local crop values for a batch of \(crops.batch); this run needs \(2 * b)x3x\(g)x\(g) and \(l * b)x3x\(s)x\(s) for a batch of \(b)")
        }
        guard masks.images == 2 * b, masks.patches == n else {
            throw ModelError("given masks are \(masks.images)x\(masks.patches); this run needs \(2 * b)x\(n) (2B global crops by patches)")
        }
    }
}

public struct StepGradients {
    public var dino: Float
    public var ibot: Float
    public var koleo: Float
    public var loss: Float { dino + ibot + koleo }
    public var backbone: ViTGradients
    public var head: DINOHeadGradients
    /// The separate iBOT head's gradients (nil: the DINO head serves iBOT).
    public var ibotHead: DINOHeadGradients? = nil
}
