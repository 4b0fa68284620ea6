extension OpRegistry {
    static let trainingOps: [any FlowOp.Type] = [EvalKNNOp.self, EvalLinearOp.self]
}
