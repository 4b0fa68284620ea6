extension OpRegistry {
    /// Data formats (issue 4): packing image folders into WebDataset shards and inspecting shards.
    static let formatOps: [any FlowOp.Type] = [PackOp.self, ShardsOp.self]
}
