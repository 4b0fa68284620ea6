import ArgumentParser
import Foundation
import FlowCore
import FlowReport
import FlowRuntime

/// `flow report [FILE] [--run R] --out report.html`
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a self-contained HTML report of a run: graph, timeline, steps, loss curves, cluster sizes, accuracy.",
        discussion: """
            The file needs nothing else (no network, scripts, fonts or images): mail it, attach it, \
            open it anywhere. Loss curves, cluster sizes and accuracies come from the steps' declared \
            outputs (training .jsonl logs, sample-clusters --report, eval-knn/eval-linear metrics); \
            sections with nothing to show are left out. See docs/report.md.
            """)

    @OptionGroup var workspace: WorkspaceOptions
    @OptionGroup var workflow: WorkflowArguments

    @Option(name: .customLong("run"), help: "The run to report (default: the newest; see flow runs).")
    var runID: Int64?

    @Option(name: .shortAndLong, help: ArgumentHelp("The HTML file to write.", valueName: "FILE"))
    var out: String = "report.html"

    func run() throws {
        try workflow.requireWorkflow(root: workspace.root)
        let context = try workspace.context()
        var arguments = workflow
        // Without a .dag named, report on the workflow the run ran, with its variables.
        if arguments.arguments.first?.hasSuffix(".dag") != true, arguments.overrides.isEmpty,
           let recorded = try (runID.map { try context.state.run($0) } ?? context.state.runs(limit: 1).first),
           !recorded.dag.isEmpty, FileManager.default.fileExists(atPath: context.workspace.absolute(recorded.dag)) {
            arguments.arguments.insert(recorded.dag, at: 0)
            arguments.overrides = recorded.variables.split(separator: " ").map(String.init).filter { $0.contains("=") }
        }
        let (wf, file) = try arguments.load(context)
        let report: RunReport
        do {
            report = try ReportBuilder.build(context: context, workflow: wf, workflowFile: file, run: runID)
        } catch let e as ReportError {
            Diagnostics.print("flow: error: \(e)")
            throw ExitCode(1)
        }
        try ReportCommand.write(report.html(), to: out)
        var sections = ["graph"]
        if report.run != nil && !report.steps.isEmpty { sections += ["timeline", "steps"] }
        if !report.lossCurves.isEmpty { sections.append("loss") }
        if !report.clusterSizes.isEmpty { sections.append("clusters") }
        if !report.accuracy.isEmpty { sections.append("accuracy") }
        let which = report.run.map { "run \($0.id)" } ?? "no run yet"
        print("flow: wrote \(out) (\(which): \(sections.joined(separator: ", ")))")
    }

    /// Writes `text` to `path` (standard output when nil), with an error that names the file.
    static func write(_ text: String, to path: String?) throws {
        guard let path else {
            FileHandle.standardOutput.write(Data(text.utf8))
            return
        }
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            Diagnostics.print("flow: error: cannot write \(path): \(error.localizedDescription) (check the directory exists and is writable)")
            throw ExitCode(1)
        }
    }
}
