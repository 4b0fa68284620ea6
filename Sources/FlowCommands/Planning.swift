import FlowCore
import FlowRuntime

/// What `flow status` and `flow explain` evaluate, the way `flow run` will act: outputs of step
/// instances that left the workflow hidden (a run removes them first), and fan-outs over files
/// that steps write expanded wherever those steps' results are known.
struct Planning {
    var workflow: Workflow
    var evaluator: Evaluator
    var evaluations: Evaluator.Evaluations
    var orphans: [OrphanOutputs.Orphan]
    /// The steps named on the command line (all when none) and what they depend on.
    var targets: StepSet
    /// What the fresh snapshot said of the steps taken fresh from it without evaluation.
    var taken: [StepID: FreshSnapshot.StepInfo] = [:]

    /// `snapshot`: what changed since the fresh snapshot, when it can restrict the evaluation to
    /// the steps a change concerns (`FreshSnapshot.Delta`). `keepingDefinitions`: whether the
    /// evaluations keep each step's `definition` (`flow explain` shows it; `flow status` does not).
    init(_ context: RunContext, _ arguments: WorkflowArguments, loaded: Workflow? = nil, snapshot: FreshSnapshot.Delta? = nil,
         keepingDefinitions: Bool = true) throws {
        var wf = try loaded ?? arguments.load(context).0
        orphans = OrphanOutputs(workflow: wf, produced: try context.state.producedOutputs(workflow: wf.id), workspace: context.workspace).removable
        context.workspace.hiddenPaths = Set(orphans.map(\.path))
        func targets(_ wf: Workflow) throws -> StepSet { wf.closure(of: try arguments.targetIDs(wf)) }
        var evaluator = try context.evaluator(for: wf)
        var infos: [StepID: FreshSnapshot.StepInfo] = [:]
        if let snapshot, let known = snapshot.knownFresh(in: wf, seen: context.workspace.observations), evaluator.restrict(to: known) {
            let byName = Dictionary(snapshot.steps.map { ($0.name, $0) }) { a, _ in a }
            for id in known.keys { infos[id] = byName[wf[id].name] }
        }
        var targetIDs = try targets(wf)
        var evaluations = evaluator.evaluateAll(targets: targetIDs, forced: [], keepingDefinitions: keepingDefinitions)
        while !wf.deferred.isEmpty {
            for (id, e) in evaluations where e.state.isKnown { if let m = e.manifest { context.workspace.knownResults[wf[id].name] = m } }
            guard wf.deferred.contains(where: { context.workspace.knownResults[$0.after] != nil }) else { break }
            let next = try arguments.load(context, warnings: false).0
            guard next.steps.count != wf.steps.count || next.deferred != wf.deferred else { break }
            wf = next
            evaluator = try context.evaluator(for: wf)
            targetIDs = try targets(wf)
            evaluations = evaluator.evaluateAll(targets: targetIDs, forced: [], keepingDefinitions: keepingDefinitions)
        }
        workflow = wf
        self.targets = targetIDs
        taken = infos.filter { evaluator.takenFresh.contains($0.key) }
        self.evaluator = evaluator
        self.evaluations = evaluations
    }
}
