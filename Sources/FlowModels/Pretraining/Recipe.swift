/// A named set of every training setting, written as data.
///
/// `dinov2-default` is dinov2/configs/ssl_default_config.yaml and `dinov2-vitl14` that file
/// overridden by dinov2/configs/train/vitl14.yaml (the configs' own values; schedule lengths in
/// the configs' epochs). `small-cpu`, the default of `flow op pretrain` and of `PretrainConfig`,
/// is sized for a few minutes on 2 cores: see `differences` and docs/pretraining.md.
///
/// A few reference values have no counterpart in flow (a SwiGLU FFN, loss weights other than
/// 1); `unsupported` names them and a run keeps flow's
/// behaviour for them.
public struct Recipe: Equatable, Sendable {
    public var name: String
    /// One line on what the recipe is for.
    public var summary: String

    // student (backbone)
    public var arch: String
    public var patch: Int
    public var layerScale: Float
    public var registers: Int
    public var dropPathRate: Double
    public var dropPathUniform: Bool
    /// "mlp" or "swiglufused".
    public var ffnLayer: String
    public var interpolateOffset: Float
    public var interpolateAntialias: Bool

    // crops
    public var globalCropSize: Int
    public var localCropSize: Int
    public var localCrops: Int
    public var globalScale: ClosedRange<Double>
    public var localScale: ClosedRange<Double>

    // optimisation and schedules; the spans are fractions of the run (the configs' epochs
    // divided by their `optim.epochs`)
    public var epochs: Int
    public var batch: Int
    public var baseLR: Double
    public var minLR: Double
    public var warmup: ScheduleSpan
    public var freezeLastLayer: ScheduleSpan
    public var teacherTemperatureWarmup: ScheduleSpan
    public var weightDecay: ClosedRange<Double>
    public var layerDecay: Float
    public var patchEmbedLRMultiplier: Float
    public var clip: Double
    public var adamBetas: (Float, Float)

    // teacher
    public var teacherMomentum: Double
    public var teacherTemperature: (start: Double, end: Double)
    public var centering: CenteringMode

    // heads and losses
    public var prototypes: Int
    public var headHidden: Int
    public var headBottleneck: Int
    public var headLayers: Int
    public var ibotSeparateHead: Bool
    public var ibotPrototypes: Int
    public var ibotHeadHidden: Int
    public var ibotHeadBottleneck: Int
    public var koleo: Float
    public var dinoLossWeight: Float
    public var ibotLossWeight: Float
    public var maskRatio: ClosedRange<Double>
    public var maskProbability: Double

    public static func == (a: Recipe, b: Recipe) -> Bool {
        a.settings.map { "\($0.0)=\($0.1)" } == b.settings.map { "\($0.0)=\($0.1)" }
    }

    /// The reference values flow cannot apply, as "key value (what flow does)".
    public var unsupported: [String] {
        var out = [String]()
        if ffnLayer != "mlp" { out.append("ffn_layer \(ffnLayer) (flow's blocks have the plain MLP)") }
        if dinoLossWeight != 1 || ibotLossWeight != 1 { out.append("loss weights \(dinoLossWeight), \(ibotLossWeight) (flow uses 1, 1)") }
        if headLayers != 3 { out.append("head_nlayers \(headLayers) (flow's heads have 3)") }
        return out
    }

    /// Every value as (name, value), in a fixed order (for tests and `--recipe` listings).
    public var settings: [(String, String)] {
        func r(_ x: ClosedRange<Double>) -> String { "\(x.lowerBound),\(x.upperBound)" }
        return [
            ("arch", arch), ("patch", String(patch)), ("layerscale", String(layerScale)),
            ("registers", String(registers)), ("drop-path", String(dropPathRate)),
            ("drop-path-uniform", String(dropPathUniform)), ("ffn", ffnLayer),
            ("interpolate-offset", String(interpolateOffset)), ("interpolate-antialias", String(interpolateAntialias)),
            ("image-size", String(globalCropSize)), ("local-size", String(localCropSize)),
            ("local-crops", String(localCrops)), ("global-scale", r(globalScale)), ("local-scale", r(localScale)),
            ("epochs", String(epochs)), ("batch", String(batch)), ("lr", String(baseLR)), ("min-lr", String(minLR)),
            ("warmup", warmup.description), ("freeze-last-layer", freezeLastLayer.description),
            ("teacher-temp-warmup", teacherTemperatureWarmup.description),
            ("weight-decay", r(weightDecay)), ("layer-decay", String(layerDecay)),
            ("patch-embed-lr-mult", String(patchEmbedLRMultiplier)), ("clip", String(clip)),
            ("adam-betas", "\(adamBetas.0),\(adamBetas.1)"),
            ("teacher-momentum", String(teacherMomentum)),
            ("teacher-temp", "\(teacherTemperature.start),\(teacherTemperature.end)"),
            ("centering", centering.rawValue),
            ("prototypes", String(prototypes)), ("head-hidden", String(headHidden)),
            ("head-bottleneck", String(headBottleneck)), ("head-layers", String(headLayers)),
            ("ibot-separate-head", String(ibotSeparateHead)), ("ibot-prototypes", String(ibotPrototypes)),
            ("ibot-head-hidden", String(ibotHeadHidden)), ("ibot-head-bottleneck", String(ibotHeadBottleneck)),
            ("koleo", String(koleo)), ("dino-loss-weight", String(dinoLossWeight)),
            ("ibot-loss-weight", String(ibotLossWeight)),
            ("mask-ratio", r(maskRatio)), ("mask-probability", String(maskProbability)),
        ]
    }

    /// The recipes by name, the default first.
    public static let all: [Recipe] = [smallCPU, dinov2Default, dinov2ViTL14]

    /// The recipe called `name`, or nil.
    public static func named(_ name: String) -> Recipe? { all.first { $0.name == name } }

    /// dinov2/configs/ssl_default_config.yaml.
    public static let dinov2Default = Recipe(
        name: "dinov2-default", summary: "DINOv2's ssl_default_config (ViT-L/16, 224-px crops, 100 epochs)",
        arch: "vit-large", patch: 16, layerScale: 1e-5, registers: 0, dropPathRate: 0.3, dropPathUniform: true,
        ffnLayer: "mlp", interpolateOffset: 0.1, interpolateAntialias: false,
        globalCropSize: 224, localCropSize: 96, localCrops: 8, globalScale: 0.32...1.0, localScale: 0.05...0.32,
        epochs: 100, batch: 64, baseLR: 0.004, minLR: 1e-6,
        // warmup_epochs 10, freeze_last_layer_epochs 1, warmup_teacher_temp_epochs 30 of 100
        warmup: .fraction(10.0 / 100), freezeLastLayer: .fraction(1.0 / 100), teacherTemperatureWarmup: .fraction(30.0 / 100),
        weightDecay: 0.04...0.4, layerDecay: 0.9, patchEmbedLRMultiplier: 0.2, clip: 3.0, adamBetas: (0.9, 0.999),
        teacherMomentum: 0.992, teacherTemperature: (0.04, 0.07), centering: .centering,
        prototypes: 65536, headHidden: 2048, headBottleneck: 256, headLayers: 3,
        ibotSeparateHead: false, ibotPrototypes: 65536, ibotHeadHidden: 2048, ibotHeadBottleneck: 256, koleo: 0.1, dinoLossWeight: 1, ibotLossWeight: 1,
        maskRatio: 0.1...0.5, maskProbability: 0.5)

    /// ssl_default_config.yaml overridden by train/vitl14.yaml (the ViT-L/14 of the paper).
    public static let dinov2ViTL14: Recipe = {
        var r = dinov2Default
        r.name = "dinov2-vitl14"
        r.summary = "DINOv2's train/vitl14 config (ViT-L/14, SwiGLU, Sinkhorn-Knopp, 500 epochs)"
        r.prototypes = 131072
        r.headBottleneck = 384
        r.ibotSeparateHead = true
        r.ibotPrototypes = 131072
        r.batch = 32
        r.centering = .sinkhornKnopp
        r.patch = 14
        r.dropPathRate = 0.4
        r.ffnLayer = "swiglufused"
        r.teacherMomentum = 0.994
        r.epochs = 500
        r.weightDecay = 0.04...0.2
        r.baseLR = 2e-4
        // warmup_epochs 80, freeze_last_layer_epochs 1, warmup_teacher_temp_epochs 30 of 500
        r.warmup = .fraction(80.0 / 500)
        r.freezeLastLayer = .fraction(1.0 / 500)
        r.teacherTemperatureWarmup = .fraction(30.0 / 500)
        r.layerDecay = 1.0
        r.localCropSize = 98
        return r
    }()

    /// The default: a ViT of 2 blocks of width 32 on 32-px crops, 12 epochs, for `make run`.
    public static let smallCPU = Recipe(
        name: "small-cpu",
        summary: "flow's default: 32-px crops, vit-test, 12 epochs; a few minutes on 2 cores",
        arch: "vit-test", patch: 4, layerScale: 1, registers: 0, dropPathRate: 0, dropPathUniform: true,
        ffnLayer: "mlp", interpolateOffset: 0.1, interpolateAntialias: false,
        globalCropSize: 32, localCropSize: 16, localCrops: 6, globalScale: 0.32...1.0, localScale: 0.05...0.32,
        epochs: 12, batch: 32, baseLR: 0.005, minLR: 1e-6,
        warmup: .fraction(0.1), freezeLastLayer: .fraction(0.01), teacherTemperatureWarmup: .fraction(0.3),
        weightDecay: 0.04...0.2, layerDecay: 1, patchEmbedLRMultiplier: 0.2, clip: 3.0, adamBetas: (0.9, 0.999),
        teacherMomentum: 0.99, teacherTemperature: (0.02, 0.02), centering: .sinkhornKnopp,
        prototypes: 64, headHidden: 256, headBottleneck: 64, headLayers: 3,
        ibotSeparateHead: false, ibotPrototypes: 64, ibotHeadHidden: 256, ibotHeadBottleneck: 64, koleo: 0.1, dinoLossWeight: 1, ibotLossWeight: 1,
        maskRatio: 0.1...0.5, maskProbability: 0.5)

    /// The recipe's backbone: the preset `arch` at `patch` and the global crop size.
    public func vit() throws -> ViTConfig {
        var c = try ViTConfig.preset(arch, patch: patch, imageSize: globalCropSize, registers: registers, layerScale: layerScale)
        c.interpolateOffset = interpolateOffset
        c.interpolateAntialias = interpolateAntialias
        return c
    }

    /// How this recipe differs from `other`, as "name: other → this".
    public func differences(from other: Recipe) -> [String] {
        let mine = Dictionary(uniqueKeysWithValues: settings)
        return other.settings.compactMap { k, v in mine[k] == v ? nil : "\(k): \(v) → \(mine[k]!)" }
    }
}
