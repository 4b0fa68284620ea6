extension OpRegistry {
    static let modelOps: [any FlowOp.Type] = [InitViTOp.self, EmbedOp.self]
}
