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
            than --group-above is drawn as one node with the count of each state. \
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
        // Expanded where the steps that produce fan-outs' files have results, as flow status does.
        let wf = try Planning(context, workflow).workflow
        for d in wf.deferred {
            Diagnostics.print("flow: \(d.displayName) expands after \(d.after) (its instances are not known yet, so not drawn)")
        }
        let targets = try workflow.targetIDs(wf)
        let states = try WorkflowStates.evaluate(context: context, workflow: wf)
        let model = GraphModel(workflow: wf, states: states, groupAbove: groupAbove,
                               include: targets.isEmpty ? nil : wf.closure(of: targets))
        let text: String
        switch format {
        case "mermaid": text = model.mermaid()
        case "svg": text = model.svg(standalone: true) + "\n"
        default: text = model.dot()
        }
        try ReportCommand.write(text, to: output)
    }
}
