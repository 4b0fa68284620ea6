import FlowCore
import FlowRuntime
import Foundation

/// An error of `flow report` the user can act on.
public struct ReportError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Gathers a `RunReport` from a workspace: the graph's states, the steps' rows, the artifacts.
public enum ReportBuilder {
    /// - Parameters:
    ///   - run: the run to report, its graph coloured by that run's record; nil for the results
    ///     in the workspace now and the runs that made them (the graph coloured by today's state).
    ///   - evaluations: today's `flow status` labels by step name, when the caller has them
    ///     (evaluated here otherwise).
    public static func build(context: RunContext, workflow: Workflow, workflowFile: String, run: Int64? = nil,
                             evaluations: [String: String]? = nil, now: Date = Date()) throws -> RunReport {
        var report: RunReport
        if let run {
            guard let info = try context.state.run(run) else {
                throw ReportError("no run \(run) in this workspace (flow runs lists them)")
            }
            let states = try WorkflowStates.record(of: run, context: context, workflow: workflow)
            report = RunReport(workflowFile: workflowFile, run: nil, graph: GraphModel(workflow: workflow, states: states), steps: [],
                               generated: now)
            try describe(info, context: context, into: &report)
        } else {
            let states = try evaluations.map { try WorkflowStates.overlay($0, context: context, workflow: workflow) }
                ?? WorkflowStates.evaluate(context: context, workflow: workflow)
            report = RunReport(workflowFile: workflowFile, run: nil, graph: GraphModel(workflow: workflow, states: states), steps: [],
                               generated: now)
            try WorkspaceResultRows.fill(&report, context: context, workflow: workflow, states: states)
        }
        ReportArtifacts.collect(workflow: workflow, root: context.workspace.root, into: &report)
        return report
    }

    /// The run's facts and its journal, one row per step in start order.
    static func describe(_ info: StateStore.Run, context: RunContext, into report: inout RunReport) throws {
        report.run = try runInfo(info, context: context)
        let records = try context.state.allRecords()
        report.steps = try context.state.steps(ofRun: info.id).map { e in
            var size = e.outputSize
            if size == nil && (e.state == .cached || e.state == .restored) { size = records[e.step]?.outputSize }
            return StepRow(name: e.step, state: e.state.rawValue, started: e.startedAt, ended: e.endedAt, attempt: e.attempt,
                           exitStatus: e.exitStatus, peakMemory: e.peakMemory, outputSize: size, note: e.note)
        }.sorted { a, b in
            let ta = a.started ?? a.ended ?? .distantFuture, tb = b.started ?? b.ended ?? .distantFuture
            return ta != tb ? ta < tb : a.name < b.name
        }
    }

    /// A run from the journal; one still marked running that no longer holds the workspace
    /// died, and is shown as interrupted.
    static func runInfo(_ info: StateStore.Run, context: RunContext) throws -> RunInfo {
        let newest = try context.state.runs(limit: 1).first?.id
        let live = info.id == newest && WorkspaceLock.isHeld(stateDirectory: context.stateDirectory)
        let status: RunStatus = info.status == .running && !live ? .interrupted : info.status
        return RunInfo(id: info.id, command: info.command, startedAt: info.startedAt, endedAt: info.endedAt,
                       status: status.rawValue, summary: info.summary, variables: info.variables)
    }
}
