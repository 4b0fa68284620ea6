// The options `pretrain` and `distill` share, and how they become a PretrainConfig.
import ArgumentParser
import Foundation
import FlowFormats
import FlowModels

/// Data, architecture, crops, optimisation, outputs: everything but masking and the teacher.
///
/// Every option that a recipe sets is optional: unset, it takes the value of `--recipe`
/// (`small-cpu` by default, see `Recipe`), so the op, the library and the docs share one set of
/// defaults.
struct TrainingOptions: ParsableArguments {
    static let d = Recipe.smallCPU

    @Option(help: "Training images: a shard, a directory of shards or a glob (labels are not used).")
    var data: String

    @Option(help: "Every default at once: \(Recipe.all.map(\.name).joined(separator: ", ")) (see docs/pretraining.md). Options given explicitly override it.")
    var recipe: String = Recipe.smallCPU.name

    @Option(help: "Backbone preset: vit-test, vit-tiny, vit-small, vit-base or vit-large (see --dim/--depth/--heads). Default: \(d.arch).")
    var arch: String?

    @Option(help: "Override the preset's width (a multiple of --heads).")
    var dim: Int?

    @Option(help: "Override the preset's number of blocks.")
    var depth: Int?

    @Option(help: "Override the preset's number of attention heads.")
    var heads: Int?

    @Option(help: "Register tokens of the student (DINOv2's reg models: 4). Default: \(d.registers).")
    var registers: Int?

    @Option(help: "Initial LayerScale gamma of a randomly initialised student (DINOv2: 1e-5, for runs of 100k+ steps). Default: \(d.layerScale).")
    var layerscale: Float?

    @Option(help: "Patch size in pixels. Default: \(d.patch).")
    var patch: Int?

    @Option(name: .customLong("image-size"), help: "Global crop side in pixels (the model's image size); a multiple of --patch. Default: \(d.globalCropSize).")
    var imageSize: Int?

    @Option(name: .customLong("local-crops"), help: "Local crops per image. Default: \(d.localCrops).")
    var localCrops: Int?

    @Option(name: .customLong("local-size"), help: "Local crop side in pixels; a multiple of --patch. Default: \(d.localCropSize).")
    var localSize: Int?

    @Option(name: .customLong("global-scale"), help: "RandomResizedCrop area range of the global crops, as LO,HI. Default: \(d.globalScale.lowerBound),\(d.globalScale.upperBound).")
    var globalScale: String?

    @Option(name: .customLong("local-scale"), help: "RandomResizedCrop area range of the local crops, as LO,HI. Default: \(d.localScale.lowerBound),\(d.localScale.upperBound).")
    var localScale: String?

    @Option(name: .customLong("blur-sigma"), help: "Gaussian blur sigma range in pixels, as LO,HI (default: DINOv2's 0.1,2, meant for 224-px crops).")
    var blurSigma: String?

    @Option(help: "Passes over the data (an epoch is floor(images / batch) steps). Default: \(d.epochs).")
    var epochs: Int?

    @Option(help: "Images per step. Default: \(d.batch).")
    var batch: Int?

    @Option(help: "Base learning rate; the peak rate is LR * sqrt(batch / 1024) (DINOv2's rule). Default: \(d.baseLR).")
    var lr: Double?

    @Option(name: .customLong("min-lr"), help: "Final learning rate of the cosine schedule. Default: \(d.minLR).")
    var minLR: Double?

    @Option(help: "Linear learning-rate warmup from 0, as a fraction of the run's steps (DINOv2: 0.1). Default: \(d.warmup).")
    var warmup: Double?

    @Option(name: .customLong("warmup-epochs"), help: "The warmup in epochs of the data instead (fractions allowed).")
    var warmupEpochs: Double?

    @Option(name: .customLong("freeze-last-layer"), help: "Fraction of the run with the heads' last layer frozen (DINOv2: 0.01). Default: \(d.freezeLastLayer).")
    var freezeLastLayer: Double?

    @Option(name: .customLong("freeze-last-layer-epochs"), help: "The last-layer freeze in epochs instead.")
    var freezeLastLayerEpochs: Double?

    @Option(name: .customLong("teacher-temp-warmup"), help: "Fraction of the run over which the teacher temperature ramps from the first to the second value of --teacher-temp (DINOv2: 0.3). Default: \(d.teacherTemperatureWarmup).")
    var teacherTempWarmup: Double?

    @Option(name: .customLong("teacher-temp-warmup-epochs"), help: "The teacher-temperature ramp in epochs instead.")
    var teacherTempWarmupEpochs: Double?

    @Option(name: .customLong("teacher-temp"), help: "Teacher temperature, START,END: linear from START to END over the ramp, then END (DINOv2: 0.04,0.07). Default: \(d.teacherTemperature.start),\(d.teacherTemperature.end).")
    var teacherTemp: String?

    @Option(name: .customLong("teacher-momentum"), help: "Start of the EMA momentum schedule (cosine up to 1; DINOv2: 0.992 to 0.994 over 100k+ steps). Default: \(d.teacherMomentum).")
    var teacherMomentum: Double?

    @Option(name: .customLong("weight-decay"), help: "Weight decay START,END, cosine from START to END (DINOv2: 0.04,0.4; vitl14 0.04,0.2). Default: \(d.weightDecay.lowerBound),\(d.weightDecay.upperBound).")
    var weightDecay: String?

    @Option(name: .customLong("layer-decay"), help: "Layer-wise learning-rate decay: block i of L gets LR * D^(L+1-i) (DINOv2: 0.9; vitl14 1 = off). Default: \(d.layerDecay).")
    var layerDecay: Float?

    @Option(name: .customLong("patch-embed-lr-mult"), help: "Learning-rate factor of the patch embedding (DINOv2: 0.2). Default: \(d.patchEmbedLRMultiplier).")
    var patchEmbedLRMult: Float?

    @Option(help: "Gradient-norm clip of the backbone and of the head, each (DINOv2: 3). Default: \(d.clip).")
    var clip: Double?

    @Option(name: .customLong("drop-path"), help: "Drop-path rate of the student's blocks, per sample as DINOv2 (0.3; vitl14 0.4). Default: \(d.dropPathRate).")
    var dropPath: Double?

    @Option(help: "Prototypes K of the DINO/iBOT head. Default: \(d.prototypes).")
    var prototypes: Int?

    @Option(name: .customLong("ibot-head"), help: "shared (the DINO head also gives the iBOT logits, DINOv2's default config) or separate (an iBOT head of its own, as vitl14; pretrain only). Default: \(d.ibotSeparateHead ? "separate" : "shared").")
    var ibotHead: String?

    @Option(name: .customLong("ibot-prototypes"), help: "Prototypes of a separate iBOT head. Default: the recipe's (\(d.ibotPrototypes)).")
    var ibotPrototypes: Int?

    @Option(name: .customLong("head-hidden"), help: "Hidden width of the head's MLP. Default: \(d.headHidden).")
    var headHidden: Int?

    @Option(name: .customLong("head-bottleneck"), help: "Bottleneck width of the head. Default: \(d.headBottleneck).")
    var headBottleneck: Int?

    @Option(help: "Teacher targets: sinkhorn (Sinkhorn-Knopp, 3 iterations) or ema (softmax with an EMA centre). Default: \(d.centering == .sinkhornKnopp ? "sinkhorn" : "ema").")
    var centering: String?

    @Option(help: "KoLeo weight. Default: \(d.koleo).")
    var koleo: Float?

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

    @Option(name: .customLong("dump-inputs"), help: ArgumentHelp("Debugging: write the crops and masks of the steps in --dump-steps to DIR/step-N/.", discussion: "globals.npy float32 [2B, 3, G, G], locals.npy float32 [L·B, 3, S, S], masks.npy uint8 [2B, patches]; crop-major, normalised as the model sees them."))
    var dumpInputs: String?

    @Option(name: .customLong("dump-steps"), help: "With --dump-inputs: the steps to dump, counted from 1, comma-separated.")
    var dumpSteps: String = "1"

    @Option(name: .customLong("replay-inputs"), help: "Debugging: a directory as --dump-inputs writes it; step N takes its crops and masks from DIR/step-N/ when that exists.")
    var replayInputs: String?

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
        guard Recipe.named(recipe) != nil else {
            throw ValidationError("--recipe must be one of \(Recipe.all.map(\.name).joined(separator: ", ")), not '\(recipe)'")
        }
        if let patch, patch <= 0 { throw ValidationError("--patch must be positive (got \(patch))") }
        if let ibotHead, ibotHead != "shared" && ibotHead != "separate" {
            throw ValidationError("--ibot-head must be shared or separate, not '\(ibotHead)'")
        }
        if let centering, centering != "sinkhorn" && centering != "ema" {
            throw ValidationError("--centering must be sinkhorn or ema, not '\(centering)'")
        }
        if let layerscale, !(layerscale.isFinite && layerscale > 0) { throw ValidationError("--layerscale must be a positive number") }
        if let registers, registers < 0 { throw ValidationError("--registers must be ≥ 0 (got \(registers))") }
        guard checkpointEvery >= 0 else { throw ValidationError("--checkpoint-every must be ≥ 0") }
        for (name, text) in [("--global-scale", globalScale), ("--local-scale", localScale), ("--weight-decay", weightDecay),
                             ("--teacher-temp", teacherTemp), ("--blur-sigma", blurSigma)] {
            if let text { _ = try Self.range(text, option: name) }
        }
        for (name, fraction, epochs) in [("warmup", warmup, warmupEpochs), ("freeze-last-layer", freezeLastLayer, freezeLastLayerEpochs),
                                         ("teacher-temp-warmup", teacherTempWarmup, teacherTempWarmupEpochs)] {
            if fraction != nil && epochs != nil {
                throw ValidationError("give --\(name) (a fraction of the run) or --\(name)-epochs, not both")
            }
            if let fraction, !(0...1).contains(fraction) {
                throw ValidationError("--\(name) is a fraction of the run: it must lie in [0, 1] (got \(fraction); for epochs use --\(name)-epochs)")
            }
            if let epochs, !(epochs >= 0 && epochs.isFinite) { throw ValidationError("--\(name)-epochs must be ≥ 0 (got \(epochs))") }
        }
    }

    /// The recipe `--recipe` names (checked by `validate`).
    var chosenRecipe: Recipe { Recipe.named(recipe) ?? .smallCPU }

    /// "LO,HI" → LO...HI.
    static func range(_ text: String, option: String) throws -> ClosedRange<Double> {
        let parts = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let lo = parts[0], let hi = parts[1], lo <= hi else {
            throw ValidationError("\(option) must be two numbers LO,HI with LO ≤ HI (got '\(text)')")
        }
        return lo...hi
    }

    /// The student architecture: the recipe's, with the options given.
    func architecture() throws -> ViTConfig {
        let r = chosenRecipe
        let patch = self.patch ?? r.patch, imageSize = self.imageSize ?? r.globalCropSize
        guard imageSize > 0, imageSize % patch == 0 else {
            throw OpError("--image-size \(imageSize) is not a multiple of --patch \(patch): use e.g. \(max(1, imageSize / patch) * patch)")
        }
        let layerscale = self.layerscale ?? r.layerScale, registers = self.registers ?? r.registers
        var c: ViTConfig
        do {
            c = try ViTConfig.preset(arch ?? r.arch, patch: patch, imageSize: imageSize, registers: registers, layerScale: layerscale)
        } catch let e as ModelError {
            throw OpError(e.message)
        }
        if dim != nil || depth != nil || heads != nil {
            c = ViTConfig(arch: "custom", dim: dim ?? c.dim, depth: depth ?? c.depth, heads: heads ?? c.heads,
                          patch: patch, imageSize: imageSize, registers: registers, layerScale: layerscale)
            do { try c.validate() } catch let e as ModelError { throw OpError(e.message) }
        }
        c.interpolateOffset = r.interpolateOffset
        c.interpolateAntialias = r.interpolateAntialias
        return c
    }

    /// The run's configuration for `images` training images: the recipe, then the options given.
    /// Prints on stderr the recipe values flow cannot apply.
    func config(images: Int, op: String) throws -> PretrainConfig {
        let r = chosenRecipe
        for note in r.unsupported {
            FileHandle.standardError.write(Data("flow op \(op): recipe \(r.name): not applied: \(note)\n".utf8))
        }
        var c = PretrainConfig(vit: try architecture(), images: images, recipe: r)
        if let localCrops { c.localCrops = localCrops }
        if let localSize { c.localSize = localSize }
        if let globalScale { c.globalScale = try Self.range(globalScale, option: "--global-scale") }
        if let localScale { c.localScale = try Self.range(localScale, option: "--local-scale") }
        c.blurSigma = try blurSigma.map { try Self.range($0, option: "--blur-sigma") }
        if let epochs { c.epochs = epochs }
        if let batch { c.batch = batch }
        if let lr { c.baseLR = lr }
        if let minLR { c.minLR = minLR }
        if let warmup { c.warmup = .fraction(warmup) }
        if let warmupEpochs { c.warmup = .epochs(warmupEpochs) }
        if let freezeLastLayer { c.freezeLastLayer = .fraction(freezeLastLayer) }
        if let freezeLastLayerEpochs { c.freezeLastLayer = .epochs(freezeLastLayerEpochs) }
        if let teacherTempWarmup { c.teacherTemperatureWarmup = .fraction(teacherTempWarmup) }
        if let teacherTempWarmupEpochs { c.teacherTemperatureWarmup = .epochs(teacherTempWarmupEpochs) }
        if let teacherMomentum { c.teacherMomentum = teacherMomentum }
        if let teacherTemp {
            let t = try Self.range(teacherTemp, option: "--teacher-temp")
            (c.teacherTemperatureStart, c.teacherTemperatureEnd) = (t.lowerBound, t.upperBound)
        }
        if let weightDecay { c.weightDecay = try Self.range(weightDecay, option: "--weight-decay") }
        if let layerDecay { c.layerDecay = layerDecay }
        if let patchEmbedLRMult { c.patchEmbedLRMultiplier = patchEmbedLRMult }
        if let clip { c.clip = clip }
        if let dropPath { c.dropPath = dropPath }
        c.jitterStrength = jitterStrength
        c.grayscaleProbability = grayscale
        c.solarizeProbability = solarize
        if let prototypes { c.prototypes = prototypes }
        if let headHidden { c.hidden = headHidden }
        if let headBottleneck { c.bottleneck = headBottleneck }
        if let centering { c.centering = centering == "ema" ? .centering : .sinkhornKnopp }
        if let koleo { c.koleo = koleo }
        if let ibotHead { c.ibotSeparateHead = ibotHead == "separate" }
        if let ibotPrototypes { c.ibotPrototypes = ibotPrototypes }
        // --head-hidden and --head-bottleneck size a separate iBOT head too when given.
        if let headHidden { c.ibotHidden = headHidden }
        if let headBottleneck { c.ibotBottleneck = headBottleneck }
        c.trainLastLayerG = trainLastLayerG
        c.photometric = !noPhotometric
        c.seed = seed
        return c
    }
}
