// The options `pretrain` and `distill` share, and how they become a PretrainConfig.
import ArgumentParser
import Foundation
import FlowFormats
import FlowModels

/// Data, architecture, crops, optimisation, outputs: everything but masking and the teacher.
struct TrainingOptions: ParsableArguments {
    @Option(help: "Training images: a shard, a directory of shards or a glob (labels are not used).")
    var data: String

    @Option(help: "Backbone preset: vit-test, vit-tiny, vit-small, vit-base or vit-large (see --dim/--depth/--heads).")
    var arch: String = "vit-test"

    @Option(help: "Override the preset's width (a multiple of --heads).")
    var dim: Int?

    @Option(help: "Override the preset's number of blocks.")
    var depth: Int?

    @Option(help: "Override the preset's number of attention heads.")
    var heads: Int?

    @Option(help: "Initial LayerScale gamma of a randomly initialised student (DINOv2: 1e-5, for runs of 100k+ steps).")
    var layerscale: Float = 1

    @Option(help: "Patch size in pixels.")
    var patch: Int = 4

    @Option(name: .customLong("image-size"), help: "Global crop side in pixels (the model's image size); a multiple of --patch.")
    var imageSize: Int = 32

    @Option(name: .customLong("local-crops"), help: "Local crops per image.")
    var localCrops: Int = 6

    @Option(name: .customLong("local-size"), help: "Local crop side in pixels; a multiple of --patch.")
    var localSize: Int = 16

    @Option(name: .customLong("global-scale"), help: "RandomResizedCrop area range of the global crops, as LO,HI.")
    var globalScale: String = "0.32,1"

    @Option(name: .customLong("local-scale"), help: "RandomResizedCrop area range of the local crops, as LO,HI.")
    var localScale: String = "0.05,0.32"

    @Option(name: .customLong("blur-sigma"), help: "Gaussian blur sigma range in pixels, as LO,HI (default: DINOv2's 0.1,2, meant for 224-px crops).")
    var blurSigma: String?

    @Option(help: "Passes over the data (an epoch is floor(images / batch) steps).")
    var epochs: Int = 12

    @Option(help: "Images per step.")
    var batch: Int = 32

    @Option(help: "Base learning rate; the peak rate is LR * sqrt(batch / 1024) (DINOv2's rule).")
    var lr: Double = 0.005

    @Option(name: .customLong("min-lr"), help: "Final learning rate of the cosine schedule.")
    var minLR: Double = 1e-6

    @Option(name: .customLong("warmup-epochs"), help: "Linear learning-rate warmup from 0, in epochs (fractions allowed).")
    var warmupEpochs: Double = 1

    @Option(name: .customLong("freeze-last-layer-epochs"), help: "Epochs with the heads' last layer frozen.")
    var freezeLastLayerEpochs: Double = 1

    @Option(name: .customLong("teacher-temp-warmup-epochs"), help: "Epochs of the teacher temperature ramp from the first to the second value of --teacher-temp.")
    var teacherTempWarmupEpochs: Double = 3

    @Option(name: .customLong("teacher-temp"), help: "Teacher temperature, START,END: linear from START to END over --teacher-temp-warmup-epochs, then END (DINOv2: 0.04,0.07).")
    var teacherTemp: String = "0.02,0.02"

    @Option(name: .customLong("teacher-momentum"), help: "Start of the EMA momentum schedule (cosine up to 1; DINOv2: 0.994 over 100k+ steps).")
    var teacherMomentum: Double = 0.99

    @Option(help: "Prototypes K of the DINO/iBOT head.")
    var prototypes: Int = 64

    @Option(name: .customLong("head-hidden"), help: "Hidden width of the head's MLP.")
    var headHidden: Int = 256

    @Option(name: .customLong("head-bottleneck"), help: "Bottleneck width of the head.")
    var headBottleneck: Int = 64

    @Option(help: "Teacher targets: sinkhorn (Sinkhorn-Knopp, 3 iterations) or ema (softmax with an EMA centre).")
    var centering: String = "sinkhorn"

    @Option(help: "KoLeo weight.")
    var koleo: Float = 0.1

    @Flag(name: .customLong("train-last-layer-g"), help: "Train the heads' last-layer weight-norm g as DINOv2's code does (default: keep it at 1, as DINOv1's norm_last_layer).")
    var trainLastLayerG = false

    @Flag(name: .customLong("no-photometric"), help: "Crops and flips only: no colour jitter, grayscale, blur or solarize (a diagnostic; DINOv2 uses them).")
    var noPhotometric = false

    @Option(name: .customLong("jitter-strength"), help: "Scale of DINOv2's colour jitter (brightness 0.4, contrast 0.4, saturation 0.2, hue 0.1); 0 turns it off.")
    var jitterStrength: Double = 1

    @Option(help: "Probability of turning a crop grayscale (DINOv2: 0.2).")
    var grayscale: Double = 0.2

    @Option(help: "Probability of solarizing the second global crop (DINOv2: 0.2).")
    var solarize: Double = 0.2

    @Option(name: .customLong("checkpoint-every"), help: "Also checkpoint every this many steps (0: only at epoch ends and on SIGTERM).")
    var checkpointEvery: Int = 0

    @Option(help: "Seed of the initialisation, crops, masks and data order.")
    var seed: UInt64 = 0

    @Option(help: "Threads (default: the step's cpus, FLOW_CPUS, else 1).")
    var threads: Int?

    @Option(name: .customLong("model-out"), help: "Output backbone (.safetensors), loadable by embed, eval-knn and eval-linear.")
    var modelOut: String

    @Option(name: .customLong("state-out"), help: "Output training state (.safetensors): student, teacher, heads, optimizer, centres.")
    var stateOut: String

    @Option(help: "Output log: one JSON object per step.")
    var log: String

    func validate() throws {
        guard patch > 0 else { throw ValidationError("--patch must be positive (got \(patch))") }
        guard imageSize > 0, imageSize % patch == 0 else {
            throw ValidationError("--image-size \(imageSize) is not a multiple of --patch \(patch): use e.g. \(max(1, imageSize / patch) * patch)")
        }
        guard localSize > 0, localSize % patch == 0 else {
            throw ValidationError("--local-size \(localSize) is not a multiple of --patch \(patch): use e.g. \(max(1, localSize / patch) * patch)")
        }
        guard centering == "sinkhorn" || centering == "ema" else {
            throw ValidationError("--centering must be sinkhorn or ema, not '\(centering)'")
        }
        guard layerscale.isFinite, layerscale > 0 else { throw ValidationError("--layerscale must be a positive number") }
        guard checkpointEvery >= 0 else { throw ValidationError("--checkpoint-every must be ≥ 0") }
        for (name, text) in [("--global-scale", globalScale), ("--local-scale", localScale)] {
            _ = try Self.range(text, option: name)
        }
    }

    /// "LO,HI" → LO...HI.
    static func range(_ text: String, option: String) throws -> ClosedRange<Double> {
        let parts = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let lo = parts[0], let hi = parts[1], lo <= hi else {
            throw ValidationError("\(option) must be two numbers LO,HI with LO ≤ HI (got '\(text)')")
        }
        return lo...hi
    }

    /// The student architecture: the preset with the overrides.
    func architecture() throws -> ViTConfig {
        var c: ViTConfig
        do { c = try ViTConfig.preset(arch, patch: patch, imageSize: imageSize, layerScale: layerscale) } catch let e as ModelError {
            throw OpError(e.message)
        }
        if dim != nil || depth != nil || heads != nil {
            c = ViTConfig(arch: "custom", dim: dim ?? c.dim, depth: depth ?? c.depth, heads: heads ?? c.heads,
                          patch: patch, imageSize: imageSize, layerScale: layerscale)
            do { try c.validate() } catch let e as ModelError { throw OpError(e.message) }
        }
        return c
    }

    /// The run's configuration for `images` training images.
    func config(images: Int) throws -> PretrainConfig {
        var c = PretrainConfig(vit: try architecture(), images: images)
        c.localCrops = localCrops
        c.localSize = localSize
        c.globalScale = try Self.range(globalScale, option: "--global-scale")
        c.localScale = try Self.range(localScale, option: "--local-scale")
        c.blurSigma = try blurSigma.map { try Self.range($0, option: "--blur-sigma") }
        c.epochs = epochs
        c.batch = batch
        c.baseLR = lr
        c.minLR = minLR
        c.warmupEpochs = warmupEpochs
        c.freezeLastLayerEpochs = freezeLastLayerEpochs
        c.teacherTemperatureWarmupEpochs = teacherTempWarmupEpochs
        c.teacherMomentum = teacherMomentum
        let temp = try Self.range(teacherTemp, option: "--teacher-temp")
        (c.teacherTemperatureStart, c.teacherTemperatureEnd) = (temp.lowerBound, temp.upperBound)
        c.jitterStrength = jitterStrength
        c.grayscaleProbability = grayscale
        c.solarizeProbability = solarize
        c.prototypes = prototypes
        c.hidden = headHidden
        c.bottleneck = headBottleneck
        c.centering = centering == "ema" ? .centering : .sinkhornKnopp
        c.koleo = koleo
        c.trainLastLayerG = trainLastLayerG
        c.photometric = !noPhotometric
        c.seed = seed
        return c
    }
}
