/// Every built-in op, by name. Each family of ops lists its own in an `OpRegistry+Family.swift` file.
public enum OpRegistry {
    public static var all: [any FlowOp.Type] {
        formatOps + imageOps + curationOps + modelOps + trainingOps + pipelineOps
    }

    public static func op(named name: String) -> (any FlowOp.Type)? {
        all.first { $0._commandName == name }
    }
}
