/// The head as a `ParameterSet`, under the reference state-dict names of `DINOHead` with
/// nlayers = 3: `mlp.0`, `mlp.2`, `mlp.4` (GELUs sit at 1 and 3) and `last_layer.weight_g` /
/// `last_layer.weight_v`. Heads take layer-decay exponent 0 (factor 1); `last_layer.*` is frozen
/// at the start of a run (`PretrainConfig.freezeLastLayer`); biases get no weight decay.
extension DINOHead: ParameterSet {
    public mutating func forEachParameter(_ body: (String, inout [Float], ParameterInfo) throws -> Void) rethrows {
        let c = config
        func info(_ name: String, _ shape: [Int]) -> ParameterInfo { ParameterInfo.dinov2(name: name, shape: shape) }
        try body("mlp.0.weight", &fc1.weight, info("mlp.0.weight", [c.hidden, c.inputDim]))
        try body("mlp.0.bias", &fc1.bias, info("mlp.0.bias", [c.hidden]))
        try body("mlp.2.weight", &fc2.weight, info("mlp.2.weight", [c.hidden, c.hidden]))
        try body("mlp.2.bias", &fc2.bias, info("mlp.2.bias", [c.hidden]))
        try body("mlp.4.weight", &fc3.weight, info("mlp.4.weight", [c.bottleneck, c.hidden]))
        try body("mlp.4.bias", &fc3.bias, info("mlp.4.bias", [c.bottleneck]))
        try body("last_layer.weight_g", &lastLayerG, info("last_layer.weight_g", [c.prototypes, 1]))
        try body("last_layer.weight_v", &lastLayerV, info("last_layer.weight_v", [c.prototypes, c.bottleneck]))
    }
}

/// Visits the same names, order and shapes as the head it belongs to.
extension DINOHeadGradients: ParameterSet {
    public mutating func forEachParameter(_ body: (String, inout [Float], ParameterInfo) throws -> Void) rethrows {
        try values.forEachParameter(body)
    }
}
