import FlowCore
import FlowRuntime
import Foundation

/// The rows of a report of the workspace's results: for each step instance of the workflow,
/// the result the workspace holds (the step's record) and the run that made it, found as
/// `flow log STEP` finds it (`StateStore.workspaceResults`).
enum WorkspaceResultRows {
    /// The last lines of a log shown in the report (the whole log stays with `flow log`).
    static let tailLines = 20
    static let tailBytes = 4096

    static func fill(_ report: inout RunReport, context: RunContext, workflow: Workflow, states: [String: NodeState]) throws {
        let results = try context.state.workspaceResults()
        var rows: [StepRow] = []
        for id in workflow.order {
            let name = workflow[id].name
            let state = states[name] ?? .stale
            guard let result = results[name] else {
                var row = StepRow(name: name, state: "", started: nil, ended: nil)
                row.now = state == .stale ? "not produced" : state.rawValue
                rows.append(row)
                continue
            }
            rows.append(row(result, now: state, context: context))
        }
        // Steps that expand only once another has run: one row each, as flow status shows them.
        for d in workflow.deferred {
            var row = StepRow(name: d.displayName, state: "", started: nil, ended: nil)
            row.now = NodeState.waits.rawValue
            row.expandsAfter = d.after
            rows.append(row)
        }
        var runs: [RunInfo] = []
        for id in Set(rows.compactMap(\.run)).sorted(by: >) {
            if let info = try context.state.run(id) { runs.append(try ReportBuilder.runInfo(info, context: context)) }
        }
        let newest = try context.state.runs(limit: 1).first.map { try ReportBuilder.runInfo($0, context: context) }
        report.steps = rows
        report.results = ResultsInfo(runs: runs, newest: newest)
    }

    /// A result made by one of this workspace's runs takes its times, usage and log from that
    /// run's journal; one made elsewhere (restored from a shared cache) from its record and the
    /// log kept in the cache.
    static func row(_ result: StateStore.WorkspaceResult, now: NodeState, context: RunContext) -> StepRow {
        let record = result.record
        var row: StepRow
        if let (run, entry) = result.made {
            row = StepRow(name: result.step, state: entry.state.rawValue, started: entry.startedAt, ended: entry.endedAt,
                          attempt: entry.attempt, exitStatus: entry.exitStatus, peakMemory: entry.peakMemory,
                          outputSize: entry.outputSize ?? record.outputSize, note: entry.note)
            row.run = run
            // No file in the run's log directory: the step printed nothing (see StepLog).
            if StepLog.exists(entry.log) {
                row.log = relative(entry.log, to: context.workspace.root)
                row.logTail = tail(String(decoding: StepLog.suffix(entry.log, limit: tailBytes), as: UTF8.self))
            }
        } else {
            row = StepRow(name: result.step, state: "succeeded", started: record.finishedAt - record.duration,
                          ended: record.finishedAt, outputSize: record.outputSize)
        }
        if row.logTail == nil, let (bytes, _) = context.cachedLog(ofResult: record.key) {
            row.log = "in the cache (flow log '\(result.step)')"
            row.logTail = tail(String(decoding: bytes.suffix(tailBytes), as: UTF8.self))
        }
        row.now = now.rawValue
        return row
    }

    static func relative(_ path: String, to root: String) -> String {
        path.hasPrefix(root + "/") ? String(path.dropFirst(root.count + 1)) : path
    }

    static func tail(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).suffix(tailLines + 1)
            .joined(separator: "\n").trimmingCharacters(in: .newlines)
    }
}
