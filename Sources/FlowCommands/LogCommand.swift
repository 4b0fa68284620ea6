import ArgumentParser
import Foundation
import FlowRuntime
import XXHash

/// `flow log STEP [--run R]`
struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log", abstract: "Print a step's log from its latest run (or from run R).")

    @OptionGroup var workspace: WorkspaceOptions

    @Argument(help: "The step's instance name, e.g. embed[3].")
    var step: String

    @Option(name: .customLong("run"), help: "The run to take the log from (see flow runs).")
    var runID: Int64?

    func run() throws {
        let context = try workspace.context()
        if let (runID, entry) = try context.state.lastEntry(step: step, run: runID),
           FileManager.default.fileExists(atPath: entry.log) {
            Diagnostics.print("# \(step), run \(runID), \(entry.state), attempt \(entry.attempt): \(entry.log)")
            FileHandle.standardOutput.write(FileManager.default.contents(atPath: entry.log) ?? Data())
            return
        }
        // The log kept in the cache with the step's last result (it may have run in another
        // workspace sharing the cache, or its .flow/logs file may have been removed).
        if runID == nil, let record = try context.state.record(step: step), let manifest = context.actions.lookup(record.key),
           let hex = manifest.log, let digest = Digest128(hex: hex), let bytes = try? context.store.contents(digest) {
            Diagnostics.print("# \(step), from the cache (result \(record.key.hex.prefix(12)), finished on \(manifest.host))")
            FileHandle.standardOutput.write(Data(bytes))
            return
        }
        Diagnostics.print("flow: error: no log of step '\(step)'\(runID.map { " in run \($0)" } ?? "") (it ran in no recorded run, or its log was removed)")
        throw ExitCode(1)
    }
}
