extension OpRegistry {
    /// Small ops that connect the stages of a pipeline.
    static let pipelineOps: [any FlowOp.Type] = [TakeOp.self]
}
