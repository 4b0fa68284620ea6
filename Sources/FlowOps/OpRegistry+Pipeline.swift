extension OpRegistry {
    /// Small ops that connect the stages of a pipeline: rows by index, per-shard parts joined,
    /// evaluation results tabulated.
    static let pipelineOps: [any FlowOp.Type] = [TakeOp.self, ConcatOp.self, EvalSummaryOp.self]
}
