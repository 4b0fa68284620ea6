import FlowCore
import FlowRuntime

/// The state of every step of a workflow in a workspace, as `flow graph` and `flow report`
/// colour them: today's (the `flow status` evaluation, overlaid with the last run's failures
/// and, while that run is live, its running steps), or a past run's record.
public enum WorkflowStates {
    /// States by step instance name. `run` is the run whose journal overlays failures (default:
    /// the newest); steps only count as running when that run is the newest and still holds the
    /// workspace lock.
    public static func evaluate(context: RunContext, workflow: Workflow, run: Int64? = nil) throws -> [String: NodeState] {
        let evaluator = try context.evaluator(for: workflow)
        let evaluations = evaluator.evaluateAll(targets: StepSet(all: workflow.steps.count), forced: [])
        context.workspace.saveStatCache()
        var labels: [String: String] = [:]
        for step in workflow.steps { labels[step.name] = evaluations[step.id]?.state.label }
        return try overlay(labels, context: context, workflow: workflow, run: run)
    }

    /// Today's states from evaluations already made (`labels`: `fresh`, `restorable` or `stale`
    /// by step name, as `flow status` gives them), overlaid as `evaluate` does.
    public static func overlay(_ labels: [String: String], context: RunContext, workflow: Workflow,
                               run: Int64? = nil) throws -> [String: NodeState] {
        let newest = try context.state.runs(limit: 1).first
        let runID = run ?? newest?.id
        var journal: [String: JournalState] = [:]
        var live = false
        if let runID {
            for entry in try context.state.steps(ofRun: runID) { journal[entry.step] = entry.state }
            live = newest?.id == runID && newest?.status == .running && WorkspaceLock.isHeld(stateDirectory: context.stateDirectory)
        }
        var states: [String: NodeState] = [:]
        for step in workflow.steps {
            states[step.name] = NodeState.combine(evaluation: labels[step.name] ?? "stale", lastRun: journal[step.name], runIsLive: live)
        }
        return states
    }

    /// What each step did in run `run`, from that run's journal alone: an instance that left the
    /// workflow since, or whose outputs were removed, keeps the colour of what it did then.
    public static func record(of run: Int64, context: RunContext, workflow: Workflow) throws -> [String: NodeState] {
        let newest = try context.state.runs(limit: 1).first
        let live = newest?.id == run && newest?.status == .running && WorkspaceLock.isHeld(stateDirectory: context.stateDirectory)
        var journal: [String: JournalState] = [:]
        for entry in try context.state.steps(ofRun: run) { journal[entry.step] = entry.state }
        var states: [String: NodeState] = [:]
        for step in workflow.steps { states[step.name] = NodeState.record(journal[step.name], runIsLive: live) }
        return states
    }
}
