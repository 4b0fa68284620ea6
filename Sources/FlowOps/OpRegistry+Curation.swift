extension OpRegistry {
    static let curationOps: [any FlowOp.Type] = [KMeansOp.self]
}
