import FlowCore
import FlowRuntime

/// The state of every step of a workflow in a workspace, as `flow graph` and `flow report`
/// colour them: the `flow status` evaluation, overlaid with the last run's failures and, while
/// that run is live, its running steps.
public enum WorkflowStates {
    /// States by step instance name. `run` is the run whose journal overlays failures (default:
    /// the newest); steps only count as running when that run is the newest and still holds the
    /// workspace lock.
    public static func evaluate(context: RunContext, workflow: Workflow, run: Int64? = nil) throws -> [String: NodeState] {
        let evaluator = try context.evaluator(for: workflow)
        let evaluations = evaluator.evaluateAll(targets: Set(workflow.steps.map(\.id)), forced: [])
        context.workspace.saveStatCache()
        let newest = try context.state.runs(limit: 1).first
        let runID = run ?? newest?.id
        var journal: [String: String] = [:]
        var live = false
        if let runID {
            for entry in try context.state.steps(ofRun: runID) { journal[entry.step] = entry.state }
            live = newest?.id == runID && newest?.status == "running" && WorkspaceLock.isHeld(stateDirectory: context.stateDirectory)
        }
        var states: [String: NodeState] = [:]
        for step in workflow.steps {
            let label = evaluations[step.id]?.state.label ?? "stale"
            states[step.name] = NodeState.combine(evaluation: label, lastRun: journal[step.name], runIsLive: live)
        }
        return states
    }
}
