extension OpRegistry {
    static let imageOps: [any FlowOp.Type] = []
}
