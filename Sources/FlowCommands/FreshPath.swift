import Foundation
import FlowCore
import FlowRuntime

/// The no-op fast path of `flow status` and `flow run`: when the workspace's `FreshSnapshot`
/// still holds, every step is fresh, and the answer needs neither the workflow nor the cache.
enum FreshPath {
    /// The snapshot context for this workspace, .dag file and `--set` values.
    static func context(root: String, cacheDirectory: String?, dag: String, overrides: [String: String],
                        environmentNames: [String]) -> String {
        FreshSnapshot.context(dag: dag, overrides: overrides,
                              cacheDirectory: RunContext.cachePath(root: root, cacheDirectory: cacheDirectory),
                              environmentNames: environmentNames, environment: ProcessInfo.processInfo.environment)
    }

    /// The snapshot, when the command acts on the whole workflow and the snapshot still holds.
    static func holding(_ workspace: WorkspaceOptions, _ arguments: WorkflowArguments) -> FreshSnapshot.Holding? {
        guard arguments.targets.isEmpty, let overrides = try? arguments.variableOverrides() else { return nil }
        return FreshSnapshot.check(stateDirectory: workspace.root + "/.flow", root: workspace.root,
                                   context: contextMaker(workspace, arguments, overrides))
    }

    /// `delta`, read on another thread while the caller opens the workspace and loads the
    /// workflow (together a third of the start of a 10,000-step rebuild): `take()` it before
    /// anything is evaluated or written to the workspace. Reading it alongside is as sound as
    /// before: what it compares is the workspace's paths, which opening and loading do not write
    /// (flow's own files are not among them); a .dag saved meanwhile is seen changed by the read
    /// or by the load (`Delta.knownFresh`), either way the whole workflow is evaluated.
    static func deltaAhead(_ workspace: WorkspaceOptions, _ arguments: WorkflowArguments) -> WorkAhead<FreshSnapshot.Delta?> {
        let ahead = WorkAhead<FreshSnapshot.Delta?>()
        guard let overrides = try? arguments.variableOverrides() else { return ahead }
        let root = workspace.root, cacheDirectory = workspace.cacheDirectory, dag = arguments.file(root: root)
        ahead.start {
            FreshSnapshot.delta(stateDirectory: root + "/.flow", root: root) { names in
                context(root: root, cacheDirectory: cacheDirectory, dag: dag, overrides: overrides, environmentNames: names)
            }
        }
        return ahead
    }

    /// The context of this workspace, .dag file and `--set` values, given the names of the
    /// environment variables the snapshot recorded.
    private static func contextMaker(_ workspace: WorkspaceOptions, _ arguments: WorkflowArguments,
                                     _ overrides: [String: String]) -> ([String]) -> String {
        let root = workspace.root
        return { names in
            context(root: root, cacheDirectory: workspace.cacheDirectory, dag: arguments.file(root: root),
                    overrides: overrides, environmentNames: names)
        }
    }

    /// The context a run or status of the whole workflow saves its snapshot under (nil: none).
    static func saveContext(_ workspace: WorkspaceOptions, _ arguments: WorkflowArguments, _ workflow: Workflow) -> String? {
        guard arguments.targets.isEmpty, let overrides = try? arguments.variableOverrides() else { return nil }
        return context(root: workspace.root, cacheDirectory: workspace.cacheDirectory, dag: arguments.file(root: workspace.root),
                       overrides: overrides, environmentNames: FreshSnapshot.environmentNames(workflow))
    }

    /// `flow status` rows for a workspace whose snapshot holds: every step fresh.
    static func statusRows(_ snapshot: FreshSnapshot.Holding) -> [StatusRow] {
        snapshot.steps().map { StatusRow(step: $0.name, state: "fresh", reasons: [], lastDuration: $0.lastDuration, outputSize: $0.outputSize) }
    }
}

extension FreshPath {
    /// `flow run` on a workspace whose snapshot holds: journals a run in which every step was
    /// cached and prints what the full path would print. False when it cannot (the workspace is
    /// locked by another run, or the journal cannot be written): the caller takes the full path.
    static func noopRun(_ workspace: WorkspaceOptions, _ arguments: WorkflowArguments, quiet: Bool) -> Bool {
        guard let snapshot = holding(workspace, arguments) else { return false }
        let start = Date()
        let stateDirectory = workspace.root + "/.flow"
        let summary = "\(snapshot.stepCount) cached"
        guard let lock = try? WorkspaceLock(stateDirectory: stateDirectory, wait: false),
              let state = try? StateStore(unchecked: stateDirectory),
              let run = try? state.recordNoopRun(command: CommandLine.arguments.joined(separator: " "), dag: arguments.file(root: workspace.root),
                                                 variables: (try? arguments.variableOverrides()) ?? [:], started: start, summary: summary)
        else { return false }
        withExtendedLifetime(lock) {}
        if !quiet {
            // As the full path prints it: timestamped unless on a terminal.
            var line = String(format: "flow: run %lld done: %@ (%.2fs)", run, summary, Date().timeIntervalSince(start))
            if !TerminalReporter.suitable() { line = WallClock.time() + " " + line }
            print(line)
        }
        return true
    }
}
