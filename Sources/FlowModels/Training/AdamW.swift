import FlowFormats

/// AdamW as torch.optim.AdamW (decoupled weight decay), with DINOv2's per-parameter groups.
///
/// For each tensor, with lr' = lr·lrMultiplier·layerDecay^exponent (lr = the last-layer rate for
/// `isLastLayer` tensors) and wd' = weightDecay when the tensor decays, else 0:
///
///     p ← p·(1 − lr'·wd');  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²
///     p ← p − lr'·(m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε)
///
/// Deterministic: element-wise, in a fixed order. The state (step count, first and second
/// moments by tensor name) is plain arrays, saved in checkpoints by `stateTensors`.
public struct AdamW: Equatable {
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    /// Layer-wise lr decay rate (0.9 in the default DINOv2 config, 1 = off in vitl14).
    public var layerDecay: Float
    /// Steps taken (t in the bias corrections).
    public private(set) var step: Int = 0
    /// First moments by `prefix + name`.
    public private(set) var firstMoments: [String: [Float]] = [:]
    /// Second moments by `prefix + name`.
    public private(set) var secondMoments: [String: [Float]] = [:]

    /// Replaces the lr factor of the tensors named `patch_embed` (DINOv2's
    /// `patch_embed_lr_mult`, 0.2 in `ParameterInfo.dinov2`); nil keeps the parameters' own.
    public var patchEmbedLRMultiplier: Float?

    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, layerDecay: Float = 1,
                patchEmbedLRMultiplier: Float? = nil) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.layerDecay = layerDecay
        self.patchEmbedLRMultiplier = patchEmbedLRMultiplier
    }

    /// The learning rate of one tensor for a scheduled `lr`.
    public func learningRate(_ info: ParameterInfo, lr: Float, lastLayerLR: Float? = nil) -> Float {
        let base = info.isLastLayer ? (lastLayerLR ?? lr) : lr
        var decay: Float = 1
        for _ in 0..<max(0, info.layerDecayExponent) { decay *= layerDecay }
        return base * info.lrMultiplier * decay
    }

    /// Counts one optimizer step; call once per iteration before the `update`s of its modules
    /// (all modules of an iteration share t).
    public mutating func beginStep() { step += 1 }

    /// Updates `parameters` in place from `gradients` (same names and sizes), keyed in the
    /// state by `prefix` (one per sub-module: "backbone.", "dino_head.").
    /// - Throws: `ModelError` when a gradient is missing or of another size.
    public mutating func update<P: ParameterSet, G: ParameterSet>(
        _ parameters: inout P, gradients: G, lr: Float, weightDecay: Float, lastLayerLR: Float? = nil,
        prefix: String = ""
    ) throws {
        precondition(step > 0, "AdamW: call beginStep() before update")
        let grads = gradients.parameterValues()
        let b1 = beta1, b2 = beta2, eps = epsilon
        let c1 = 1 - pow(b1, step), c2 = 1 - pow(b2, step)
        try parameters.forEachParameter { name, values, info in
            var info = info
            if let patchEmbedLRMultiplier, name.contains("patch_embed") { info.lrMultiplier = patchEmbedLRMultiplier }
            guard let g = grads[name], g.count == values.count else {
                throw ModelError("AdamW: gradient of '\(prefix + name)' is missing or has another size")
            }
            let key = prefix + name
            // Taken out of the dictionaries so the arrays are uniquely owned (no copy on write).
            var m = firstMoments.removeValue(forKey: key) ?? [Float](repeating: 0, count: values.count)
            var v = secondMoments.removeValue(forKey: key) ?? [Float](repeating: 0, count: values.count)
            guard m.count == values.count, v.count == values.count else {
                throw ModelError("AdamW: saved moments of '\(key)' have \(m.count) values, the tensor \(values.count)")
            }
            let rate = learningRate(info, lr: lr, lastLayerLR: lastLayerLR)
            let shrink = 1 - rate * (info.weightDecay ? weightDecay : 0)
            let n = values.count
            if n > 0 {
                values.withUnsafeMutableBufferPointer { pb in
                    m.withUnsafeMutableBufferPointer { mb in
                        v.withUnsafeMutableBufferPointer { vb in
                            g.withUnsafeBufferPointer { gb in
                                let p = pb.start, m = mb.start, v = vb.start, g = gb.start
                                for i in 0..<n {
                                    m[i] = b1 * m[i] + (1 - b1) * g[i]
                                    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                                    p[i] = p[i] * shrink - rate * (m[i] / c1) / ((v[i] / c2).squareRoot() + eps)
                                }
                            }
                        }
                    }
                }
            }
            firstMoments[key] = m
            secondMoments[key] = v
        }
    }

    /// The state as tensors `exp_avg.<name>` and `exp_avg_sq.<name>` plus the step count, for a
    /// checkpoint's safetensors file (shapes are flat).
    public func stateTensors() -> (tensors: [String: Tensor], metadata: [String: String]) {
        var out: [String: Tensor] = [:]
        for (k, m) in firstMoments { out["exp_avg." + k] = Tensor(float32: m, shape: [m.count]) }
        for (k, v) in secondMoments { out["exp_avg_sq." + k] = Tensor(float32: v, shape: [v.count]) }
        return (out, ["adamw_step": String(step)])
    }

    /// Restores the state written by `stateTensors`; other tensors are ignored.
    /// - Throws: `ModelError` naming `source` when the step count is missing or a moment is not float.
    public mutating func loadState(tensors: [String: Tensor], metadata: [String: String], source: String) throws {
        guard let s = metadata["adamw_step"], let n = Int(s), n >= 0 else {
            throw ModelError("\(source): no valid 'adamw_step' in the metadata: not an optimizer checkpoint")
        }
        var first: [String: [Float]] = [:], second: [String: [Float]] = [:]
        for (name, t) in tensors {
            let isFirst = name.hasPrefix("exp_avg."), isSecond = name.hasPrefix("exp_avg_sq.")
            guard isFirst || isSecond else { continue }
            let values: [Float]
            do { values = try t.float32Values() } catch {
                throw ModelError("\(source): optimizer tensor '\(name)' has dtype \(t.dtype.rawValue), expected F32")
            }
            if isFirst { first[String(name.dropFirst("exp_avg.".count))] = values }
            else { second[String(name.dropFirst("exp_avg_sq.".count))] = values }
        }
        step = n
        firstMoments = first
        secondMoments = second
    }
}

private func pow(_ x: Float, _ n: Int) -> Float {
    var r: Float = 1
    for _ in 0..<n { r *= x }
    return r
}
