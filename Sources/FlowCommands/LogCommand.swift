import ArgumentParser
import Foundation
import FlowCore
import FlowRuntime
import XXHash

/// `flow log STEP [--run R]`
struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Print the log of the step's result that is in the workspace (or of run R).",
        discussion: """
            Without --run: the log kept with the result now in the workspace, and the run that made \
            it; if the step's latest attempt failed since, that attempt's log. A fan-out's base name \
            lists its instances. `NAME:VALUE` stands for `NAME[VALUE]` (no shell quoting needed).
            """)

    @OptionGroup var workspace: WorkspaceOptions

    @Argument(help: "The step's instance name, e.g. embed[3] or embed:3.")
    var step: String

    @Option(name: .customLong("run"), help: "The run to take the log from (see flow runs).")
    var runID: Int64?

    func run() throws {
        let context = try workspace.context()
        let step = Workflow.instanceName(self.step)
        let latest = try context.state.lastEntry(step: step, run: runID)
        if runID != nil {
            guard let (run, entry) = latest, try show(entry, run: run) else { throw noLog(step, context) }
            return
        }
        let result = try context.state.workspaceResult(step: step)
        let record = result?.record
        // A failure after the result in the workspace: what the user wants to read first.
        if let (run, entry) = latest, [.failed, .interrupted].contains(entry.state), run > (record?.runID ?? 0), try show(entry, run: run) {
            return
        }
        if let record, let (bytes, host) = context.cachedLog(ofResult: record.key) {
            let made = result?.made?.run
            Diagnostics.print("# \(step): the log of the result in the workspace, from the cache (\(record.key.hex.prefix(12)), " +
                              (made.map { "made by run \($0)" } ?? "made on \(host), outside this workspace's runs") + ")")
            FileHandle.standardOutput.write(Data(bytes))
            return
        }
        if let (run, entry) = latest, try show(entry, run: run) { return }
        throw noLog(step, context)
    }

    /// Prints a run's log of the step, which is empty when the step printed nothing (no file in
    /// the run's log directory, see StepLog); false when the run's logs were removed.
    func show(_ entry: StateStore.RunStep, run: Int64) throws -> Bool {
        guard StepLog.exists(entry.log) else { return false }
        Diagnostics.print("# \(entry.step), run \(run), \(entry.state), attempt \(entry.attempt): \(entry.log)" +
                          (FileManager.default.fileExists(atPath: entry.log) ? "" : " (empty: nothing printed)"))
        copy(entry.log)
        return true
    }

    /// Copies the file at `path`, if there is one, to stdout a chunk at a time: a log may be
    /// larger than memory.
    func copy(_ path: String) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return }
        defer { try? handle.close() }
        while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            FileHandle.standardOutput.write(chunk)
        }
    }

    func noLog(_ step: String, _ context: RunContext) -> Error {
        let instances = ((try? context.state.allRecords()) ?? [:]).keys.filter { $0.hasPrefix(step + "[") }.sorted()
        if !instances.isEmpty {
            let shown = instances.prefix(20).map { "  flow log '\($0)'" }.joined(separator: "\n")
            Diagnostics.print("flow: '\(step)' is a fan-out of \(instances.count) instance\(instances.count == 1 ? "" : "s"); name one:\n\(shown)" +
                              (instances.count > 20 ? "\n  ..." : ""))
            return ExitCode(64)
        }
        Diagnostics.print("flow: error: no log of step '\(step)'\(runID.map { " in run \($0)" } ?? "") (it ran in no recorded run, or its log was removed)")
        return ExitCode(1)
    }
}
