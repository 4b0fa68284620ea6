import ArgumentParser
import Foundation
import FlowRuntime

/// `flow runs`
struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List past runs of this workspace, newest first.")

    @OptionGroup var workspace: WorkspaceOptions

    @Option(name: .short, help: "How many runs to list.")
    var n = 20

    func run() throws {
        let context = try workspace.context()
        let runs = try context.state.runs(limit: n)
        let live = WorkspaceLock.isHeld(stateDirectory: context.stateDirectory)
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        print("RUN   STARTED              DURATION  OUTCOME      STEPS")
        for r in runs {
            var status = r.status
            if status == .running && !(live && r.id == runs.first?.id) { status = .interrupted }
            let duration = r.endedAt.map { Format.duration($0.timeIntervalSince(r.startedAt)) } ?? "-"
            let steps = r.summary.isEmpty && status == .interrupted
                ? ((try? context.state.steps(ofRun: r.id))?.count).map { "\($0) steps journaled" } ?? "" : r.summary
            print(pad(String(r.id), 5) + " " + f.string(from: r.startedAt) + "  " + pad(duration, 8) + "  " + pad(status.rawValue, 11) + "  " + steps)
        }
    }
}
