import FlowNumerics

/// The sizes of a DINO (or iBOT) projection head.
///
/// DINOv2 uses hidden 2048, bottleneck 256 and K = 65,536 prototypes (131,072 for L/g); those
/// are far too large for a 2-core CPU, so the defaults here are small (spec §8: K may shrink).
public struct DINOHeadConfig: Equatable, Codable, Sendable {
    /// Input width: the backbone's embedding dimension.
    public var inputDim: Int
    public var hidden: Int
    public var bottleneck: Int
    /// K, the number of prototypes (output logits per row).
    public var prototypes: Int

    /// Sizes default to those of the default recipe (`Recipe.smallCPU`), as in `flow op pretrain`.
    public init(inputDim: Int, hidden: Int = Recipe.smallCPU.headHidden, bottleneck: Int = Recipe.smallCPU.headBottleneck,
                prototypes: Int = Recipe.smallCPU.prototypes) {
        self.inputDim = inputDim
        self.hidden = hidden
        self.bottleneck = bottleneck
        self.prototypes = prototypes
    }
}

/// DINOv2's `DINOHead` (dinov2/layers/dino_head.py) with 3 MLP layers:
///
///     Linear(d, hidden) → GELU → Linear(hidden, hidden) → GELU → Linear(hidden, bottleneck)
///     → L2-normalise (eps 1e-12) → weight_norm(Linear(bottleneck, K, bias: false))
///
/// The last layer is stored as PyTorch's weight-norm pair: `lastLayerV` ([K, bottleneck]) and
/// `lastLayerG` ([K], trainable, initialised to 1); its effective weight row k is
/// g_k · v_k / ‖v_k‖. The forward runs on a batch of rows, [rows, d] → [rows, K].
public struct DINOHead: Equatable {
    public var config: DINOHeadConfig
    /// `mlp.0`, `mlp.2`, `mlp.4` in the reference state dict.
    public var fc1: Linear
    public var fc2: Linear
    public var fc3: Linear
    /// `last_layer.weight_v`, [K, bottleneck] row-major.
    public var lastLayerV: [Float]
    /// `last_layer.weight_g`, [K] (stored [K, 1] in checkpoints).
    public var lastLayerG: [Float]

    /// Normalisation floor of `F.normalize` in the head.
    public static let normalizeEps: Float = 1e-12

    /// A head of zeros except `lastLayerG` = 1 (weights filled in by init or loading).
    public init(zeros config: DINOHeadConfig) {
        self.config = config
        fc1 = Linear(inFeatures: config.inputDim, outFeatures: config.hidden)
        fc2 = Linear(inFeatures: config.hidden, outFeatures: config.hidden)
        fc3 = Linear(inFeatures: config.hidden, outFeatures: config.bottleneck)
        lastLayerV = [Float](repeating: 0, count: config.prototypes * config.bottleneck)
        lastLayerG = [Float](repeating: 1, count: config.prototypes)
    }

    /// What `backward` needs from a forward pass (all row-major, `rows` rows).
    public struct Activations {
        public var rows: Int
        /// [rows, d]
        public var input: [Float]
        /// fc1 and fc2 outputs before GELU, [rows, hidden].
        public var pre1: [Float], pre2: [Float]
        /// The same after GELU.
        public var act1: [Float], act2: [Float]
        /// fc3 output ‖·‖ per row, [rows], and the normalised bottleneck z, [rows, bottleneck].
        public var norms: [Float]
        public var normalized: [Float]
        /// The effective last-layer weight g·v/‖v‖, [K, bottleneck].
        public var lastWeight: [Float]
    }

    /// The effective weight-normalised last layer, [K, bottleneck]: row k is g_k · v_k / ‖v_k‖.
    public func lastLayerWeight() -> [Float] {
        let b = config.bottleneck
        var w = lastLayerV
        for k in 0..<config.prototypes {
            var ss: Float = 0
            for j in 0..<b { ss += lastLayerV[k * b + j] * lastLayerV[k * b + j] }
            let scale = lastLayerG[k] / ss.squareRoot()
            for j in 0..<b { w[k * b + j] *= scale }
        }
        return w
    }

    /// [rows, d] → logits [rows, K]; with `keepActivations`, also what `backward` needs.
    public func forward(_ input: [Float], rows: Int,
                        keepActivations: Bool = false) -> (output: [Float], activations: Activations?) {
        let pre1 = fc1.forward(input, rows: rows)          // [rows, hidden]
        let act1 = pre1.map { FastMath.gelu($0) }
        let pre2 = fc2.forward(act1, rows: rows)           // [rows, hidden]
        let act2 = pre2.map { FastMath.gelu($0) }
        var z = fc3.forward(act2, rows: rows)              // [rows, bottleneck]
        let b = config.bottleneck
        var norms = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            var ss: Float = 0
            for j in 0..<b { ss += z[r * b + j] * z[r * b + j] }
            norms[r] = ss.squareRoot()
            let inv = 1 / max(norms[r], DINOHead.normalizeEps)
            for j in 0..<b { z[r * b + j] *= inv }
        }
        let w = lastLayerWeight()                          // [K, bottleneck]
        let k = config.prototypes
        var out = [Float](repeating: 0, count: rows * k)   // [rows, K]
        gemm(.none, .transpose, m: rows, n: k, k: b, z, Block(ld: b), w, Block(ld: b), &out, Block(ld: k))
        let saved = keepActivations
            ? Activations(rows: rows, input: input, pre1: pre1, pre2: pre2, act1: act1, act2: act2,
                          norms: norms, normalized: z, lastWeight: w)
            : nil
        return (out, saved)
    }
}
