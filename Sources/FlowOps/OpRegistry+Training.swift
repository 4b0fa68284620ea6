extension OpRegistry {
    static let trainingOps: [any FlowOp.Type] = [PretrainOp.self, DistillOp.self, EvalKNNOp.self, EvalLinearOp.self]
}
