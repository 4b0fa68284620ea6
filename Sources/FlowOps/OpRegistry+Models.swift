extension OpRegistry {
    static let modelOps: [any FlowOp.Type] = []
}
