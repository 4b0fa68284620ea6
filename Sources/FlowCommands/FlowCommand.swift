import ArgumentParser
import FlowOps

/// `flow`: the root command.
public struct FlowCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "flow",
        abstract: "A batch job runner for machine-learning pipelines, with a content-addressed cache.",
        version: "0.1.0",
        subcommands: [RunCommand.self, StatusCommand.self, ExplainCommand.self, RunsCommand.self, LogCommand.self]
            + FlowCommand.reportCommands + FlowCommand.reproCommands
            + [VerifyCommand.self, GCCommand.self, HashCommand.self, OpCommand.self, ExecCommand.self]
    )

    public init() {}
}

/// `flow op NAME args...`: run one built-in op by hand, as a .dag step would.
struct OpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "op",
        abstract: "Run a built-in op (the steps of the DINOv2 pipeline).",
        subcommands: OpRegistry.all
    )
}
