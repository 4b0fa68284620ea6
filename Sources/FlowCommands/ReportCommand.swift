import ArgumentParser
import Foundation
import FlowCore
import FlowReport
import FlowRuntime

/// `flow report [FILE] [--run R] --out report.html`
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a self-contained HTML report of the workspace's results (or of run R): graph, timelines, steps, metrics, loss curves, cluster sizes, accuracy.",
        discussion: """
            Without --run: each step's result that is in the workspace now and the run that made \
            it (when, how long, its log), the graph coloured by today's state as flow status sees it. \
            With --run R: run R's journal, the graph coloured by what each step did in run R. \
            The file needs nothing else (no network, fonts or images): mail it, attach it, open it \
            anywhere. Metrics come from the steps' `metrics PATH` files (as flow metrics shows them, \
            with a plot per metric for a sweep); loss curves, cluster sizes and accuracies from the \
            steps' declared outputs; sections with nothing to show are left out. See docs/report.md.
            """)

    @OptionGroup var workspace: WorkspaceOptions
    @OptionGroup var workflow: WorkflowArguments

    @Option(name: .customLong("run"), help: "The run to report (default: the results in the workspace and the runs that made them; see flow runs).")
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
            arguments.overrides = ReportCommand.assignments(recorded.variables)
        }
        let (loaded, file) = try arguments.load(context)
        // Evaluated as flow status does (outputs of steps that left the workflow hidden, fan-outs
        // over produced files expanded), so the report agrees with flow status and flow graph.
        let plan = try Planning(context, arguments, loaded: loaded)
        let wf = plan.workflow
        context.workspace.saveStatCache()
        var report: RunReport
        do {
            var labels: [String: String] = [:]
            for (id, e) in plan.evaluations { labels[wf[id].name] = e.state.label }
            report = try ReportBuilder.build(context: context, workflow: wf, workflowFile: file, run: runID, evaluations: labels)
        } catch let e as ReportError {
            Diagnostics.print("flow: error: \(e)")
            throw ExitCode(1)
        }
        report.metrics = try ReportCommand.metrics(wf, context: context, run: runID)
        let html = report.html()
        try ReportCommand.write(html, to: out)
        let which: String
        if let run = report.run {
            which = "run \(run.id)"
        } else if let runs = report.results?.runs.map({ "\($0.id)" }), !runs.isEmpty {
            which = "results in the workspace, made by run\(runs.count == 1 ? "" : "s") \(runs.joined(separator: ", "))"
        } else {
            which = "no run yet"
        }
        print("flow: wrote \(out) (\(which): \(RunReport.sectionIDs(in: html).joined(separator: ", ")))")
    }

    /// The `NAME=VALUE` assignments of a run's recorded variables (`Cs=0.01, 0.1, 1 seed=0`): a
    /// word that does not start with `NAME=` continues the value before it (a list has spaces).
    static func assignments(_ recorded: String) -> [String] {
        var result: [String] = []
        for word in recorded.split(separator: " ") {
            let name = word.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }
            if result.isEmpty || (!name.isEmpty && word.dropFirst(name.count).first == "=") {
                result.append(String(word))
            } else {
                result[result.count - 1] += " " + word
            }
        }
        return result.filter { $0.contains("=") }
    }

    /// The table `flow metrics` prints (read from the workspace, or from run R's results in the
    /// cache), with the instances for the sweep plots; nil when no step declares metrics.
    /// A file that cannot be parsed is left out, as the report's other files are.
    static func metrics(_ wf: Workflow, context: RunContext, run: Int64?) throws -> MetricsSection? {
        let read = try run.map { try MetricsCommand.reader(ofRun: $0, context) } ?? { _, path in try readIfPresent(context.workspace.absolute(path)) }
        let rows = try MetricsCommand.rows(wf, targets: []) { step, path in
            guard let bytes = try read(step, path), (try? MetricsFile.parse(bytes, path: path)) != nil else { return nil }
            return bytes
        }
        guard !rows.isEmpty else { return nil }
        let steps = Dictionary(wf.steps.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let instances = rows.map { r in
            MetricsSection.Instance(step: r.step, baseName: steps[r.step]?.baseName ?? r.step,
                                    parameters: r.parameterOrder.map { ($0, r.parameters[$0] ?? "") },
                                    metrics: r.keyOrder.map { ($0, r.metrics[$0] ?? "") })
        }
        return MetricsSection(table: MetricsCommand.table(rows), instances: instances)
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
