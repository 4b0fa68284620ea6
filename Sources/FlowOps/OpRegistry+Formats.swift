extension OpRegistry {
    static let formatOps: [any FlowOp.Type] = []
}
