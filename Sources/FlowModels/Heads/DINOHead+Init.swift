/// Random initialisation as in `DINOHead.__init__` (dinov2/layers/dino_head.py).
extension DINOHead {
    /// A head of `config` initialised from `seed`, the same values for the same seed:
    /// - MLP Linear weights trunc_normal(std 0.02) (bounds ±2, absolute as in timm), biases 0;
    /// - `last_layer` is built after `apply(_init_weights)`, so `weight_v` keeps PyTorch's
    ///   nn.Linear default, U(−1/√bottleneck, 1/√bottleneck); `weight_g` = 1.
    public init(randomlyInitialized config: DINOHeadConfig, seed: UInt64) {
        var head = DINOHead(zeros: config)
        var rng = SplitMix64(seed: seed)
        head.fc1.weight = rng.truncatedNormal(count: head.fc1.weight.count, std: 0.02)
        head.fc2.weight = rng.truncatedNormal(count: head.fc2.weight.count, std: 0.02)
        head.fc3.weight = rng.truncatedNormal(count: head.fc3.weight.count, std: 0.02)
        let bound = 1 / Float(config.bottleneck).squareRoot()
        head.lastLayerV = rng.uniform(count: head.lastLayerV.count, bound: bound)
        self = head
    }
}
