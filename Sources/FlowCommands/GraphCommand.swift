import ArgumentParser
import Foundation
import FlowCore
import FlowReport
import FlowRuntime

/// `flow graph [FILE] [STEP...] [--format dot|mermaid|svg]`
struct GraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Print the workflow's DAG, each step coloured by its state (DOT, Mermaid or SVG).",
        discussion: """
            States are those of flow status (fresh, restorable, stale), plus failed (in the last run, \
            and not fresh since) and running (in a run going on now). A fan-out with more instances \
            than --group-above is drawn as one node with the count of each state. A step that \
            expands only once another has run (a fan-out over files that step writes) is one \
            dashed node until then: stats[*], "expands after split". \
            Render DOT with: flow graph | dot -Tsvg > graph.svg
            """)

    @OptionGroup var workspace: WorkspaceOptions
    @OptionGroup var workflow: WorkflowArguments

    @Option(help: "Output format: dot (Graphviz), mermaid, or svg (flow's own layout).")
    var format: String = "dot"

    @Option(name: .customLong("group-above"), help: "Draw a fan-out with more than N instances as one node.")
    var groupAbove: Int = 8

    @Option(name: .shortAndLong, help: ArgumentHelp("Write to FILE instead of standard output.", valueName: "FILE"))
    var output: String?

    func validate() throws {
        guard ["dot", "mermaid", "svg"].contains(format) else {
            throw ValidationError("--format must be dot, mermaid or svg, not '\(format)'")
        }
        guard groupAbove >= 1 else { throw ValidationError("--group-above must be at least 1") }
    }

    func run() throws {
        try workflow.requireWorkflow(root: workspace.root)
        let context = try workspace.context()
        // Expanded where the steps that produce fan-outs' files have results, as flow status does;
        // a step that still waits is one node ("expands after split").
        let wf = try Planning(context, workflow).workflow
        var targets = try workflow.targetIDs(wf)
        let waiting = Self.waiting(wf, named: workflow.targets)
        // What the named steps that wait read is drawn with them.
        let reads = Set(wf.deferred.filter { waiting.contains($0.baseName) }.flatMap(\.reads))
        targets += wf.steps.filter { reads.contains($0.baseName) }.map(\.id)
        let states = try WorkflowStates.evaluate(context: context, workflow: wf)
        let model = GraphModel(workflow: wf, states: states, groupAbove: groupAbove,
                               include: targets.isEmpty ? nil : wf.closure(of: targets),
                               waiting: targets.isEmpty ? nil : waiting)
        let text: String
        switch format {
        case "mermaid": text = model.mermaid()
        case "svg": text = model.svg(standalone: true) + "\n"
        default: text = model.dot()
        }
        try ReportCommand.write(text, to: output)
    }

    /// The steps that wait (`Workflow.deferred`) among the targets, by base name, and those
    /// that wait that they read from.
    static func waiting(_ wf: Workflow, named targets: [String]) -> Set<String> {
        let deferred = Dictionary(wf.deferred.map { ($0.baseName, $0) }) { a, _ in a }
        var result = Set<String>()
        var stack = targets.map(Workflow.instanceName).filter { deferred[$0] != nil }
        while let name = stack.popLast() {
            guard result.insert(name).inserted else { continue }
            stack += deferred[name]!.reads.filter { deferred[$0] != nil }
        }
        return result
    }
}
