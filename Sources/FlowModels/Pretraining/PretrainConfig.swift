import Foundation
import FlowFormats

/// Which loop a `Trainer` runs.
public enum TrainingMode: String, Sendable {
    /// DINOv2 self-supervised pretraining: an EMA teacher of the student, masked iBOT.
    case pretrain
    /// Distillation (DINOv2 §5): a frozen teacher, no masking, iBOT on every patch token, and a
    /// spare EMA of the student as the final model.
    case distill
}

/// Every setting of a training run that changes its results. Checkpoints store it (as
/// `settings`) and a resume refuses a checkpoint whose settings differ.
public struct PretrainConfig: Equatable, Sendable {
    public var mode: TrainingMode = .pretrain
    /// The student backbone (and, in pretraining, the teacher's).
    public var vit: ViTConfig
    /// The frozen teacher's backbone in distillation.
    public var teacherVit: ViTConfig? = nil
    /// Head sizes; `inputDim` is set from the backbone that feeds the head.
    public var hidden: Int
    public var bottleneck: Int
    public var prototypes: Int
    /// iBOT with a head of its own (DINOv2's vitl14/g configs, `ibot.separate_head`) of these
    /// sizes; false: the DINO head serves both losses (the default config). Pretraining only.
    public var ibotSeparateHead: Bool
    public var ibotHidden: Int
    public var ibotBottleneck: Int
    public var ibotPrototypes: Int
    public var localCrops: Int
    public var localSize: Int
    public var globalScale: ClosedRange<Double>
    public var localScale: ClosedRange<Double>
    /// Gaussian-blur σ range in pixels; nil: DINOv2's U(0.1, 2). That range is meant for 224-px
    /// crops; scaling it by imageSize/224 for 32-px crops made no measurable difference.
    public var blurSigma: ClosedRange<Double>? = nil
    /// Colour jitter, grayscale, blur and solarize as DINOv2 (true), or crops and flips only.
    public var photometric = true
    /// Scales DINOv2's colour-jitter strengths (brightness 0.4, contrast 0.4, saturation 0.2,
    /// hue 0.1); 1 is the reference.
    public var jitterStrength = 1.0
    /// Grayscale and solarize probabilities (DINOv2: 0.2 each; solarize on global crop 2 only).
    public var grayscaleProbability = 0.2
    public var solarizeProbability = 0.2
    public var epochs: Int
    public var batch: Int
    /// Images in the data set; with `batch` it fixes the steps per epoch (the last partial
    /// batch of an epoch is dropped).
    public var images: Int
    /// Base learning rate; the peak rate is base·√(batch/1024) (DINOv2's `sqrt_wrt_1024` rule).
    public var baseLR: Double
    public var minLR: Double
    /// Linear lr warmup from 0 (DINOv2: 10 % of the run).
    public var warmup: ScheduleSpan
    /// The heads' last layer is frozen this long (DINOv2: 1 % of the run).
    public var freezeLastLayer: ScheduleSpan
    /// Length of the teacher temperature ramp (DINOv2: 30 of 100 epochs, 30 %).
    public var teacherTemperatureWarmup: ScheduleSpan
    public var teacherMomentum: Double
    /// Teacher temperature: `start` ramps linearly to `end` over the warmup (DINOv2: 0.04 → 0.07).
    public var teacherTemperatureStart: Double
    public var teacherTemperatureEnd: Double
    /// Weight decay, cosine from the lower to the upper bound (DINOv2: 0.04 → 0.4, vitl14 0.2).
    public var weightDecay: ClosedRange<Double>
    /// Layer-wise lr decay (DINOv2 default 0.9, vitl14 1 = off).
    public var layerDecay: Float
    /// The lr factor of the patch embedding (DINOv2: 0.2).
    public var patchEmbedLRMultiplier: Float
    public var centering: CenteringMode
    public var maskRatio: ClosedRange<Double>
    public var maskProbability: Double
    public var koleo: Float
    /// Train the heads' `last_layer.weight_g` (DINOv2's code does; DINOv1's `norm_last_layer`
    /// default keeps it at 1). False (the default here): g stays 1, so every logit is a cosine
    /// and the student cannot flatten its predictions by shrinking g (measured: with g trained
    /// and weight-decayed it fell from 1 to 0.4 within 4 short epochs and the losses stayed at ln K).
    public var trainLastLayerG = false
    /// Gradient-norm clip, applied to the backbone and each head separately (DINOv2: 3).
    public var clip: Double
    /// Drop-path rate of the student's blocks (DINOv2: 0.3, vitl14 0.4; see `DropPath`).
    public var dropPath: Double
    /// The same rate in every block (true, as the reference configs), else linspace(0, rate, depth).
    public var dropPathUniform: Bool
    public var seed: UInt64 = 0

    /// A run of `vit` on `images` images with every other setting from `recipe` (the recipe's
    /// own architecture is the caller's to build: see `Recipe.vit()`).
    public init(vit: ViTConfig, images: Int, recipe: Recipe = .smallCPU) {
        self.vit = vit
        self.images = images
        hidden = recipe.headHidden
        bottleneck = recipe.headBottleneck
        prototypes = recipe.prototypes
        ibotSeparateHead = recipe.ibotSeparateHead
        ibotHidden = recipe.ibotHeadHidden
        ibotBottleneck = recipe.ibotHeadBottleneck
        ibotPrototypes = recipe.ibotPrototypes
        localCrops = recipe.localCrops
        localSize = recipe.localCropSize
        globalScale = recipe.globalScale
        localScale = recipe.localScale
        epochs = recipe.epochs
        batch = recipe.batch
        baseLR = recipe.baseLR
        minLR = recipe.minLR
        warmup = recipe.warmup
        freezeLastLayer = recipe.freezeLastLayer
        teacherTemperatureWarmup = recipe.teacherTemperatureWarmup
        teacherMomentum = recipe.teacherMomentum
        (teacherTemperatureStart, teacherTemperatureEnd) = recipe.teacherTemperature
        weightDecay = recipe.weightDecay
        layerDecay = recipe.layerDecay
        patchEmbedLRMultiplier = recipe.patchEmbedLRMultiplier
        centering = recipe.centering
        maskRatio = recipe.maskRatio
        maskProbability = recipe.maskProbability
        koleo = recipe.koleo
        clip = recipe.clip
        dropPath = recipe.dropPathRate
        dropPathUniform = recipe.dropPathUniform
    }

    public var stepsPerEpoch: Int { batch > 0 ? images / batch : 0 }
    public var iterations: Int { epochs * stepsPerEpoch }
    /// The peak learning rate: base·√(batch/1024).
    public var peakLR: Double { baseLR * (Double(batch) / 1024).squareRoot() }

    /// Iterations of `span` in this run.
    public func iterations(of span: ScheduleSpan) -> Int { span.iterations(total: iterations, stepsPerEpoch: stepsPerEpoch) }

    /// The five schedules, their phase lengths from `warmup`, `freezeLastLayer` and
    /// `teacherTemperatureWarmup`.
    public var schedules: TrainingSchedules {
        TrainingSchedules(iterations: iterations, lr: peakLR, minLR: minLR, warmup: iterations(of: warmup),
                          weightDecay: (weightDecay.lowerBound, weightDecay.upperBound),
                          teacherMomentum: (teacherMomentum, 1.0),
                          teacherTemperature: (teacherTemperatureStart, teacherTemperatureEnd),
                          teacherTemperatureWarmup: iterations(of: teacherTemperatureWarmup),
                          freezeLastLayer: iterations(of: freezeLastLayer))
    }

    public var studentHead: DINOHeadConfig {
        DINOHeadConfig(inputDim: vit.dim, hidden: hidden, bottleneck: bottleneck, prototypes: prototypes)
    }

    /// The separate iBOT head's sizes (used only with `ibotSeparateHead`).
    public var ibotHead: DINOHeadConfig {
        DINOHeadConfig(inputDim: vit.dim, hidden: ibotHidden, bottleneck: ibotBottleneck, prototypes: ibotPrototypes)
    }

    public var teacherHead: DINOHeadConfig {
        DINOHeadConfig(inputDim: (teacherVit ?? vit).dim, hidden: hidden, bottleneck: bottleneck, prototypes: prototypes)
    }

    /// The σ range the crops use (see `blurSigma`).
    public var effectiveBlurSigma: ClosedRange<Double> {
        blurSigma ?? 0.1...2.0
    }

    public var multiCrop: MultiCrop {
        var m = MultiCrop(globalSize: vit.imageSize, localSize: localSize, localCount: localCrops,
                          globalScale: globalScale, localScale: localScale)
        m.blurSigma = effectiveBlurSigma
        let j = ColorJitter.dinov2
        m.jitter = ColorJitter(brightness: j.brightness * jitterStrength, contrast: j.contrast * jitterStrength,
                               saturation: j.saturation * jitterStrength, hue: j.hue * jitterStrength)
        m.grayscaleProbability = grayscaleProbability
        m.solarizeProbability = solarizeProbability
        if !photometric {
            m.jitterProbability = 0
            m.grayscaleProbability = 0
            m.blurProbability = (0, 0, 0)
            m.solarizeProbability = 0
        }
        return m
    }

    /// The checks a run needs before it starts; the message names the option to change.
    public func validate() throws {
        try vit.validate()
        guard localSize > 0, localSize % vit.patch == 0 else {
            throw ModelError("--local-size \(localSize) is not a multiple of the patch size \(vit.patch): use e.g. \(max(1, localSize / vit.patch) * vit.patch)")
        }
        guard localCrops >= 0 else { throw ModelError("--local-crops must be ≥ 0 (got \(localCrops))") }
        guard batch >= 2 else { throw ModelError("--batch must be at least 2 (KoLeo needs a nearest neighbour; got \(batch))") }
        guard epochs >= 1 else { throw ModelError("--epochs must be at least 1 (got \(epochs))") }
        guard images > 0 else { throw ModelError("the data holds no images") }
        guard batch <= images else {
            throw ModelError("--batch \(batch) is larger than the data (\(images) images): lower --batch to at most \(images)")
        }
        guard prototypes >= 2, hidden >= 1, bottleneck >= 1 else {
            throw ModelError("--prototypes must be ≥ 2 and the head sizes positive (got \(prototypes), \(hidden), \(bottleneck))")
        }
        guard baseLR.isFinite, baseLR >= 0, minLR.isFinite, minLR >= 0 else { throw ModelError("--lr and --min-lr must be finite and ≥ 0") }
        for (name, r) in [("--global-scale", globalScale), ("--local-scale", localScale), ("--mask-ratio", maskRatio)] {
            guard r.lowerBound > 0, r.upperBound <= 1 else {
                throw ModelError("\(name) \(r.lowerBound),\(r.upperBound) must lie in (0, 1]")
            }
        }
        for (name, span) in [("--warmup", warmup), ("--freeze-last-layer", freezeLastLayer),
                             ("--teacher-temp-warmup", teacherTemperatureWarmup)] where !span.isValid {
            throw ModelError("\(name) is \(span): a fraction must lie in [0, 1], epochs must be ≥ 0")
        }
        guard weightDecay.lowerBound >= 0, weightDecay.upperBound.isFinite else {
            throw ModelError("--weight-decay must be finite and ≥ 0 (got \(weightDecay.lowerBound),\(weightDecay.upperBound))")
        }
        guard layerDecay > 0, layerDecay <= 1 else { throw ModelError("--layer-decay must lie in (0, 1] (got \(layerDecay))") }
        guard patchEmbedLRMultiplier >= 0, patchEmbedLRMultiplier.isFinite else {
            throw ModelError("--patch-embed-lr-mult must be ≥ 0 (got \(patchEmbedLRMultiplier))")
        }
        guard clip > 0, clip.isFinite else { throw ModelError("--clip must be positive (got \(clip))") }
        if ibotSeparateHead {
            guard mode == .pretrain else { throw ModelError("a separate iBOT head (--ibot-head separate) is for pretraining; distillation uses the teacher's DINO head for both losses") }
            guard ibotPrototypes >= 2, ibotHidden >= 1, ibotBottleneck >= 1 else {
                throw ModelError("--ibot-prototypes must be ≥ 2 (got \(ibotPrototypes))")
            }
        }
        guard dropPath >= 0, dropPath < 1 else { throw ModelError("--drop-path must lie in [0, 1) (got \(dropPath))") }
        guard teacherTemperatureStart > 0, teacherTemperatureEnd > 0 else {
            throw ModelError("--teacher-temp must be positive (got \(teacherTemperatureStart),\(teacherTemperatureEnd))")
        }
        guard jitterStrength >= 0, jitterStrength.isFinite else { throw ModelError("--jitter-strength must be ≥ 0 (got \(jitterStrength))") }
        for (name, p) in [("--grayscale", grayscaleProbability), ("--solarize", solarizeProbability)] {
            guard (0...1).contains(p) else { throw ModelError("\(name) must be a probability in [0, 1] (got \(p))") }
        }
        guard (0...1).contains(maskProbability) else { throw ModelError("--mask-probability must be in [0, 1] (got \(maskProbability))") }
        if mode == .pretrain && Int(Double(2 * batch) * maskProbability) == 0 {
            throw ModelError("--mask-probability \(maskProbability) masks no image of a batch of \(batch): iBOT needs masked patches")
        }
        if let t = teacherVit {
            guard t.patch == vit.patch, t.imageSize == vit.imageSize else {
                throw ModelError("the teacher has patch \(t.patch) and image size \(t.imageSize); the student must match (it has \(vit.patch) and \(vit.imageSize)) so that their patch tokens line up")
            }
        }
    }

    /// The settings as ordered (name, value) pairs: stored in checkpoints and compared on resume.
    public var settings: [(String, String)] {
        func arch(_ c: ViTConfig) -> String {
            "\(c.arch) dim \(c.dim) depth \(c.depth) heads \(c.heads) mlp \(c.mlpHidden) patch \(c.patch) image \(c.imageSize) registers \(c.registers) layerscale \(c.layerScale.map { String($0) } ?? "none")"
        }
        var s: [(String, String)] = [
            ("mode", mode.rawValue), ("arch", arch(vit)),
            ("head", "hidden \(hidden) bottleneck \(bottleneck) prototypes \(prototypes)"),
            ("ibot-head", ibotSeparateHead ? "separate hidden \(ibotHidden) bottleneck \(ibotBottleneck) prototypes \(ibotPrototypes)" : "shared"),
            ("local-crops", String(localCrops)), ("local-size", String(localSize)),
            ("global-scale", "\(globalScale.lowerBound),\(globalScale.upperBound)"),
            ("local-scale", "\(localScale.lowerBound),\(localScale.upperBound)"),
            ("blur-sigma", "\(effectiveBlurSigma.lowerBound),\(effectiveBlurSigma.upperBound)"),
            ("epochs", String(epochs)), ("batch", String(batch)), ("images", String(images)),
            ("lr", String(baseLR)), ("min-lr", String(minLR)), ("warmup", warmup.description),
            ("freeze-last-layer", freezeLastLayer.description),
            ("teacher-temp-warmup", teacherTemperatureWarmup.description),
            ("teacher-momentum", String(teacherMomentum)),
            ("teacher-temp", "\(teacherTemperatureStart),\(teacherTemperatureEnd)"),
            ("weight-decay", "\(weightDecay.lowerBound),\(weightDecay.upperBound)"),
            ("layer-decay", String(layerDecay)), ("centering", centering.rawValue),
            ("mask-ratio", "\(maskRatio.lowerBound),\(maskRatio.upperBound)"),
            ("mask-probability", String(maskProbability)), ("koleo", String(koleo)), ("clip", String(clip)),
            ("drop-path", "\(dropPath) \(dropPathUniform ? "uniform" : "linear")"),
            ("last-layer-g", trainLastLayerG ? "trained" : "frozen"), ("photometric", String(photometric)),
            ("jitter-strength", String(jitterStrength)), ("grayscale", String(grayscaleProbability)),
            ("solarize", String(solarizeProbability)),
            ("seed", String(seed)),
        ]
        if let t = teacherVit { s.append(("teacher-arch", arch(t))) }
        // Only when changed, so checkpoints written before the option existed still resume.
        if patchEmbedLRMultiplier != 0.2 { s.append(("patch-embed-lr-mult", String(patchEmbedLRMultiplier))) }
        return s
    }

    /// The settings that differ from `stored` (a checkpoint's), as "name: checkpoint X, this run Y".
    public func differences(from stored: [String: String]) -> [String] {
        settings.compactMap { name, value in
            let old = stored[name] ?? "(none)"
            return old == value ? nil : "\(name): checkpoint '\(old)', this run '\(value)'"
        }
    }
}
