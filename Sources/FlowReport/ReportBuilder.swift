import FlowCore
import FlowRuntime
import Foundation

/// An error of `flow report` the user can act on.
public struct ReportError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Gathers a `RunReport` from a workspace: the run's journal, the steps' states, the artifacts.
public enum ReportBuilder {
    /// - Parameter run: the run to report (default: the newest; none is fine: graph only).
    public static func build(context: RunContext, workflow: Workflow, workflowFile: String, run: Int64? = nil,
                             now: Date = Date()) throws -> RunReport {
        let info: StateStore.Run?
        if let run {
            guard let r = try context.state.run(run) else {
                throw ReportError("no run \(run) in this workspace (flow runs lists them)")
            }
            info = r
        } else {
            info = try context.state.runs(limit: 1).first
        }
        let states = try WorkflowStates.evaluate(context: context, workflow: workflow, run: info?.id)
        var report = RunReport(workflowFile: workflowFile, run: nil, graph: GraphModel(workflow: workflow, states: states), steps: [],
                               generated: now)
        if let info {
            let newest = try context.state.runs(limit: 1).first?.id
            let live = info.id == newest && WorkspaceLock.isHeld(stateDirectory: context.stateDirectory)
            let status = info.status == "running" && !live ? "interrupted" : info.status
            report.run = RunInfo(id: info.id, command: info.command, startedAt: info.startedAt, endedAt: info.endedAt,
                                 status: status, summary: info.summary, variables: info.variables)
            let records = try context.state.allRecords()
            report.steps = try context.state.steps(ofRun: info.id).map { e in
                var size = e.outputSize
                if size == nil && (e.state == "cached" || e.state == "restored") { size = records[e.step]?.outputSize }
                return StepRow(name: e.step, state: e.state, started: e.startedAt, ended: e.endedAt, attempt: e.attempt,
                               exitStatus: e.exitStatus, peakMemory: e.peakMemory, outputSize: size, note: e.note)
            }.sorted { a, b in
                let ta = a.started ?? a.ended ?? .distantFuture, tb = b.started ?? b.ended ?? .distantFuture
                return ta != tb ? ta < tb : a.name < b.name
            }
        }
        ReportArtifacts.collect(workflow: workflow, root: context.workspace.root, into: &report)
        return report
    }
}
