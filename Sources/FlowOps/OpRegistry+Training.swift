extension OpRegistry {
    static let trainingOps: [any FlowOp.Type] = []
}
