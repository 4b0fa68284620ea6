import ArgumentParser
import Foundation
import FlowCore
import FlowRuntime

/// `flow explain [FILE] STEP`
struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Explain a step's state: its key, and every difference from its last recorded run.")

    @OptionGroup var workspace: WorkspaceOptions
    @OptionGroup var workflow: WorkflowArguments

    func run() throws {
        try workflow.requireWorkflow(root: workspace.root)
        let context = try workspace.context()
        guard !workflow.targets.isEmpty else { throw ValidationError("name the step to explain: flow explain [FILE] STEP") }
        let plan = try Planning(context, workflow)
        let wf = plan.workflow, evaluations = plan.evaluations
        let ids = try workflow.targetIDs(wf)
        context.workspace.saveStatCache()
        for id in ids {
            let step = wf[id]
            let e = evaluations[id]!
            print("step \(step.name)  (\(step.location))")
            print("  state:   \(e.state.label)")
            print("  command: \(step.commandLine)")
            if let key = e.key { print("  key:     \(key.hex)") }
            if let record = try context.state.record(step: step.name) {
                print("  last run: key \(record.key.short), \(Format.duration(record.duration)), \(Format.bytes(record.outputSize)) of outputs, run \(record.runID)")
            } else {
                print("  last run: none recorded")
            }
            if !e.state.reasons.isEmpty {
                print("  why:")
                for r in e.state.reasons {
                    print("    " + r.detail.replacingOccurrences(of: "\n", with: "\n    "))
                }
            }
            if let d = e.definition {
                print("  inputs:")
                for (path, digest) in d.inputs.sorted(by: { $0.key < $1.key }) {
                    let external = wf.externals.first { $0.contains(path) }.map { "  (external \($0.name), read-only)" } ?? ""
                    print("    \(digest.short)  \(path)\(external)")
                }
                if !step.toolchains.isEmpty {
                    print("  toolchains:")
                    for t in step.toolchains {
                        print("    \(d.toolchains[t.name]?.short ?? "--------")  \(t.name) = \(t.commandLine)")
                    }
                }
                if !d.environment.isEmpty {
                    print("  env:")
                    for (k, v) in d.environment.sorted(by: { $0.key < $1.key }) { print("    \(k)=\(v)") }
                }
                if !d.variables.isEmpty {
                    print("  variables: " + d.variables.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
                }
            }
        }
    }
}
