import ArgumentParser
import Foundation
import FlowCore
import FlowRuntime

/// Options every workspace command shares: where the workspace and its cache are.
struct WorkspaceOptions: ParsableArguments {
    @Option(name: .customShort("C"), help: ArgumentHelp("Run as if started in DIR (the workspace root).", valueName: "DIR"))
    var directory: String?

    @Option(help: ArgumentHelp("The cache directory (default: cache/ in the workspace, or $FLOW_CACHE).", valueName: "DIR"))
    var cache: String?

    var root: String {
        let cwd = FileManager.default.currentDirectoryPath
        guard let d = directory else { return cwd }
        let p = d.hasPrefix("/") ? d : cwd + "/" + d
        return URL(fileURLWithPath: p).standardizedFileURL.path
    }

    var cacheDirectory: String? {
        cache ?? ProcessInfo.processInfo.environment["FLOW_CACHE"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func context(readOnly: Bool = false) throws -> RunContext {
        guard FileStat.of(root)?.isDirectory == true else {
            throw ValidationError("workspace '\(root)' is not a directory")
        }
        let context = try RunContext(root: root, cacheDirectory: cacheDirectory, readOnly: readOnly)
        // Record what loading and evaluating look at, for a FreshSnapshot.
        context.workspace.observations = [:]
        return context
    }
}

/// The .dag file and targets: `[FILE] [STEP...]`; FILE is the first argument ending in `.dag`.
struct WorkflowArguments: ParsableArguments {
    @Argument(help: ArgumentHelp("A .dag file (default: flow.dag, else workflows/pretrain.dag), then steps to act on (default: all).",
                                 valueName: "file-or-step"))
    var arguments: [String] = []

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a variable of the .dag (repeatable).", valueName: "NAME=VALUE"))
    var overrides: [String] = []

    func file(root: String) -> String {
        if let f = arguments.first, f.hasSuffix(".dag") { return f }
        if FileManager.default.fileExists(atPath: root + "/flow.dag") { return "flow.dag" }
        return "workflows/pretrain.dag"
    }

    var targets: [String] {
        arguments.first?.hasSuffix(".dag") == true ? Array(arguments.dropFirst()) : arguments
    }

    func variableOverrides() throws -> [String: String] {
        var result: [String: String] = [:]
        for o in overrides {
            guard let eq = o.firstIndex(of: "="), eq != o.startIndex else {
                throw ValidationError("--set takes NAME=VALUE, got '\(o)'")
            }
            result[String(o[..<eq])] = String(o[o.index(after: eq)...])
        }
        return result
    }

    /// Fails with a usage error (64) when no .dag was named and the default ones are not in
    /// `root`: called before anything is created there (no `.flow/`, no `cache/` in a directory
    /// that is not a flow project).
    func requireWorkflow(root: String) throws {
        guard arguments.first?.hasSuffix(".dag") != true, !FileManager.default.fileExists(atPath: root + "/" + file(root: root)) else { return }
        Diagnostics.print("flow: error: no workflow in \(root): flow looks for flow.dag, then workflows/pretrain.dag. " +
                          "Name a .dag file (flow run path/to/pipeline.dag), or run flow in the project's directory (or with -C DIR)")
        throw ExitCode(64)
    }

    /// The flow binary, as the workflow memo knows it.
    static let binaryIdentity = WorkflowMemo.binaryIdentity(version: FlowCommand.configuration.version)

    /// Loads the workflow (from its memo when that still holds, see `WorkflowMemo`), printing
    /// every located error and exiting 65 (or 64) when there are any.
    func load(_ context: RunContext, warnings: Bool = true) throws -> (Workflow, String) {
        let file = self.file(root: context.workspace.root)
        let loader = WorkflowLoader(workspace: context.workspace, ops: BuiltinOps(), environment: ProcessInfo.processInfo.environment)
        let memo = WorkflowMemo(stateDirectory: context.stateDirectory, binary: Self.binaryIdentity)
        do {
            let overrides = try variableOverrides()
            let wf = try context.workspace.observing(.loading) {
                try memo.load(file: file, overrides: overrides, loader: loader, workspace: context.workspace).0
            }
            if warnings { for w in wf.warnings { Diagnostics.print(w.description) } }
            return (wf, file)
        } catch let e as DAGErrors {
            Diagnostics.print(e.description)
            let n = e.errors.count
            Diagnostics.print("\(n) error\(n == 1 ? "" : "s"); nothing was run")
            throw ExitCode(e.exitCode)
        } catch let e as WorkflowLoader.UsageError {
            Diagnostics.print("flow: \(e)")
            throw ExitCode(64)
        }
    }

    /// Resolves target names, failing with a suggestion for unknown ones. A target that names a
    /// step that expands later (`Workflow.deferred`) selects the step it waits for.
    func targetIDs(_ workflow: Workflow) throws -> [StepID] {
        var (ids, unknown) = workflow.resolve(targets: targets)
        for d in workflow.deferred where unknown.contains(d.baseName) {
            unknown.removeAll { $0 == d.baseName }
            ids += workflow.resolve(targets: [d.after]).ids
        }
        if let name = unknown.first {
            let names = Set(workflow.steps.map(\.baseName)).union(workflow.steps.map(\.name))
            Diagnostics.print("flow: error: no step named '\(name)'\(Spellcheck.hint(for: name, among: names))")
            throw ExitCode(64)
        }
        return ids
    }
}

extension WorkspaceLock {
    /// The workspace lock for a command that changes the workspace; a busy workspace is exit 75.
    static func take(_ context: RunContext, wait: Bool) throws -> WorkspaceLock {
        do {
            return try WorkspaceLock(stateDirectory: context.stateDirectory, wait: wait)
        } catch let held as WorkspaceLock.Held {
            Diagnostics.print("flow: error: \(held)")
            throw ExitCode(75)
        }
    }
}

enum Diagnostics {
    static func print(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
