extension OpRegistry {
    static let imageOps: [any FlowOp.Type] = [SynthImagesOp.self, DecodeCheckOp.self]
}
