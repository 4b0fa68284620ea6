import ArgumentParser
import Foundation
import FlowRuntime
import SQLite
import FlowOps

/// `flow`: the root command.
public struct FlowCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "flow",
        abstract: "A batch job runner for machine-learning pipelines, with a content-addressed cache.",
        version: "0.1.0",
        subcommands: [RunCommand.self, StatusCommand.self, ExplainCommand.self, RunsCommand.self, LogCommand.self]
            + FlowCommand.reportCommands + FlowCommand.reproCommands
            + [PushCommand.self, PullCommand.self, MetricsCommand.self, CleanCommand.self, VerifyCommand.self, GCCommand.self, HashCommand.self, OpCommand.self, ExecCommand.self]
    )

    public init() {}
}

/// `flow op NAME args...`: run one built-in op by hand, as a .dag step would.
struct OpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "op",
        abstract: "Run a built-in op (the steps of the DINOv2 pipeline).",
        // Element by element: each `any FlowOp.Type` becomes an `any ParsableCommand.Type` through
        // FlowOp's own conformance. Passing the array as it is made the compiler convert it with a
        // runtime cast per element, and each cast searched all of the binary's ~6,000 protocol
        // conformance records: 18 searches, a fifth of those of a start-up (every command builds
        // this tree, `flow --version` too).
        subcommands: OpRegistry.all.map { $0 as any ParsableCommand.Type }
    )
}

extension FlowCommand {
    /// Parses and runs the command line. A file-system or state failure outside any step (a full
    /// disk, a read-only directory, a file where a directory must be) exits 74 (EX_IOERR) with a
    /// message that names the path and what to do; everything else exits as ArgumentParser decides
    /// (or as the command threw `ExitCode`).
    public static func runMain() -> Never {
        // `flow op NAME --typo`: the misspelt option, not a missing required one (which
        // ArgumentParser would report first).
        let args = Array(CommandLine.arguments.dropFirst())
        if args.count >= 2, args[0] == "op", let type = OpRegistry.op(named: args[1]),
           let unknown = BuiltinOps.unknownOption(type, Array(args.dropFirst(2))) {
            Diagnostics.print("Error: \(unknown)\nUsage: \(type.usageString())")
            Foundation.exit(64)
        }
        do {
            var command = try parseAsRoot()
            try command.run()
            Foundation.exit(0)
        } catch let e as SystemError {
            Diagnostics.print("flow: error: \(e)")
            Foundation.exit(74)
        } catch let e as SQLiteError where e.isFull || (e.isIOError && DiskSpace.isFull(e.path)) {
            Diagnostics.print("flow: error: the disk holding the workspace state \(e.path) is full (\(e.message)): free some space, e.g. `flow gc`")
            Foundation.exit(74)
        } catch let e as SQLiteError where e.isIOError {
            Diagnostics.print("flow: error: cannot read or write the workspace state \(e.path) (\(e.message)): check the disk that holds it")
            Foundation.exit(74)
        } catch let e as SQLiteError where e.isReadOnly {
            Diagnostics.print("flow: error: cannot write the workspace state (\(e.message)): check the permissions of .flow/")
            Foundation.exit(74)
        } catch {
            exit(withError: error)
        }
    }
}
