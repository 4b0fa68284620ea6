import FlowFormats

/// How the optimizer treats one parameter tensor (dinov2/utils/param_groups.py).
///
/// The effective learning rate of a tensor is
/// `lr(iteration) · lrMultiplier · layerDecay^layerDecayExponent`, where `lr` is the last-layer
/// schedule (0 while the last layer is frozen) when `isLastLayer`; its weight decay is the schedule's
/// value when `weightDecay`, else 0.
public struct ParameterInfo: Equatable, Sendable {
    /// The tensor's shape as stored in a checkpoint (product = value count).
    public var shape: [Int]
    /// Whether weight decay applies (false for biases, norms and LayerScale γ).
    public var weightDecay: Bool
    /// A fixed learning-rate factor (0.2 for `patch_embed`, else 1).
    public var lrMultiplier: Float
    /// Layer-wise decay exponent L + 1 − id: id = 0 for pos/patch/cls/mask/register tokens,
    /// i + 1 for block i, L + 1 for the final norm and for heads (exponent 0).
    public var layerDecayExponent: Int
    /// A head's `last_layer` (frozen, lr = 0, at the start of a run: `freezeLastLayer`).
    public var isLastLayer: Bool

    public init(shape: [Int], weightDecay: Bool = true, lrMultiplier: Float = 1,
                layerDecayExponent: Int = 0, isLastLayer: Bool = false) {
        self.shape = shape
        self.weightDecay = weightDecay
        self.lrMultiplier = lrMultiplier
        self.layerDecayExponent = layerDecayExponent
        self.isLastLayer = isLastLayer
    }

    /// The DINOv2 rules by name: no decay for `*.bias`, names containing "norm" or "gamma";
    /// lr ×0.2 for names containing "patch_embed"; `isLastLayer` for names containing
    /// "last_layer". `layerDecayExponent` is the caller's (see `ViT.layerDecayExponent`).
    public static func dinov2(name: String, shape: [Int], layerDecayExponent: Int = 0) -> ParameterInfo {
        let noDecay = name.hasSuffix(".bias") || name.contains("norm") || name.contains("gamma")
        return ParameterInfo(shape: shape, weightDecay: !noDecay,
                             lrMultiplier: name.contains("patch_embed") ? 0.2 : 1,
                             layerDecayExponent: layerDecayExponent,
                             isLastLayer: name.contains("last_layer"))
    }
}

/// A model (or its gradients, or optimizer state) seen as named float tensors, so that AdamW,
/// gradient clipping, the EMA teacher and checkpoints treat every parameter the same way.
///
/// Conformers visit their tensors in a stable order under the names they have in a checkpoint
/// (the DINOv2 state-dict names for the backbone). A gradient container of the same model type
/// visits the same names in the same order with the same shapes.
public protocol ParameterSet {
    /// Calls `body` once per tensor with its name, its values (which `body` may change in
    /// place but must not resize) and how to optimise it.
    mutating func forEachParameter(_ body: (String, inout [Float], ParameterInfo) throws -> Void) rethrows
}

extension ParameterSet {
    /// Every tensor as (name, values, info), in visiting order.
    public func parameterList() -> [(name: String, values: [Float], info: ParameterInfo)] {
        var copy = self
        var out: [(name: String, values: [Float], info: ParameterInfo)] = []
        copy.forEachParameter { name, values, info in out.append((name, values, info)) }
        return out
    }

    /// name → values.
    public func parameterValues() -> [String: [Float]] {
        var out: [String: [Float]] = [:]
        for p in parameterList() { out[p.name] = p.values }
        return out
    }

    /// Total number of scalar parameters.
    public var parameterCount: Int { parameterList().reduce(0) { $0 + $1.values.count } }

    /// The same names, shapes and infos with every value 0 (a gradient accumulator).
    public func zerosLike() -> NamedParameters {
        NamedParameters(parameterList().map {
            NamedParameters.Entry(name: $0.name, values: [Float](repeating: 0, count: $0.values.count), info: $0.info)
        })
    }

    /// Sets every value to 0 in place.
    public mutating func setZero() {
        forEachParameter { _, values, _ in
            for i in values.indices { values[i] = 0 }
        }
    }

    /// The tensors for a safetensors file (float32, checkpoint shapes), names prefixed by `prefix`.
    public func safetensorsTensors(prefix: String = "") -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for p in parameterList() { out[prefix + p.name] = Tensor(float32: p.values, shape: p.info.shape) }
        return out
    }

    /// Replaces every tensor by `tensors[prefix + name]`. A missing tensor or one of another size
    /// throws, naming `source` and the tensor; extra tensors are ignored (a checkpoint holds
    /// several sets under different prefixes).
    public mutating func load(from tensors: [String: Tensor], prefix: String = "", source: String) throws {
        try forEachParameter { name, values, info in
            guard let t = tensors[prefix + name] else {
                throw ModelError("\(source): missing tensor '\(prefix + name)' (shape \(info.shape))")
            }
            let got: [Float]
            do { got = try t.float32Values() } catch {
                throw ModelError("\(source): tensor '\(prefix + name)' has dtype \(t.dtype.rawValue), expected a float tensor")
            }
            guard got.count == values.count else {
                throw ModelError("\(source): tensor '\(prefix + name)' has shape \(t.shape), expected \(info.shape)")
            }
            values = got
        }
    }
}

/// A plain list of named tensors: gradients, optimizer moments, or a small module's parameters
/// (heads) that has no richer structure of its own.
public struct NamedParameters: ParameterSet, Equatable {
    public struct Entry: Equatable {
        public var name: String
        public var values: [Float]
        public var info: ParameterInfo
        public init(name: String, values: [Float], info: ParameterInfo) {
            self.name = name
            self.values = values
            self.info = info
        }
    }

    /// In visiting order; names are unique.
    public var entries: [Entry]
    private var index: [String: Int]

    public init(_ entries: [Entry] = []) {
        self.entries = []
        index = [:]
        for e in entries { append(e) }
    }

    /// Adds a tensor (a name already present is a programmer error).
    public mutating func append(_ entry: Entry) {
        precondition(index[entry.name] == nil, "NamedParameters: duplicate name \(entry.name)")
        index[entry.name] = entries.count
        entries.append(entry)
    }

    /// The values under `name`, or nil.
    public subscript(name: String) -> [Float]? {
        get { index[name].map { entries[$0].values } }
        set {
            guard let i = index[name], let newValue else { return }
            precondition(newValue.count == entries[i].values.count, "NamedParameters: \(name) resized")
            entries[i].values = newValue
        }
    }

    public mutating func forEachParameter(_ body: (String, inout [Float], ParameterInfo) throws -> Void) rethrows {
        for i in entries.indices {
            try body(entries[i].name, &entries[i].values, entries[i].info)
        }
    }
}
