import ArgumentParser
import Foundation
import FlowRuntime

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
        guard let (runID, entry) = try context.state.lastEntry(step: step, run: runID),
              FileManager.default.fileExists(atPath: entry.log) else {
            Diagnostics.print("flow: error: no log of step '\(step)'\(runID.map { " in run \($0)" } ?? "") (it ran in no recorded run, or its log was removed)")
            throw ExitCode(1)
        }
        Diagnostics.print("# \(step), run \(runID), \(entry.state), attempt \(entry.attempt): \(entry.log)")
        FileHandle.standardOutput.write(FileManager.default.contents(atPath: entry.log) ?? Data())
    }
}
