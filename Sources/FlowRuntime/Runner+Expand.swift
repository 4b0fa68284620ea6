import FlowCore

extension Runner {
    /// Expands the fan-outs that waited for results this run has produced (`Workflow.deferred`):
    /// loads the workflow again, now that their producers' files are known, and carries every
    /// settled step over by name. Called when nothing runs and nothing is ready; false when there
    /// is nothing (more) to expand.
    func expandDeferred() throws -> Bool {
        guard !workflow.deferred.isEmpty, let replan else { return false }
        for (id, manifest) in evaluator.manifests { context.workspace.knownResults[workflow[id].name] = manifest }
        guard workflow.deferred.contains(where: { context.workspace.knownResults[$0.after] != nil }) else { return false }
        let next = try replan()
        guard next.steps.count != workflow.steps.count || next.deferred != workflow.deferred else { return false }
        adopt(next)
        // Instances that the expansion no longer has: their outputs go before anything reads them.
        try handleOrphans()
        return true
    }

    /// Continues the run on `next`, a larger version of the workflow: the plan grows (keeping
    /// outcomes and what runs by step name), and what the builder and the evaluator know by step
    /// id is carried over.
    func adopt(_ next: Workflow) {
        let old = workflow
        // The selection: what was selected before, by name, and the new instances of the steps
        // that expanded (all of them when no target was named).
        var targets: [StepID]
        if options.targets.isEmpty {
            targets = next.steps.map(\.id)
        } else {
            let byName = Dictionary(next.steps.map { ($0.name, $0.id) }) { a, _ in a }
            targets = plan.selected.compactMap { byName[old[$0].name] }
            let expanded = Set(old.deferred.map(\.baseName))
            targets += next.steps.filter { expanded.contains($0.baseName) && targetNames.contains($0.baseName) }.map(\.id)
        }
        let mapping = plan.grow(to: next, targets: targets)
        attempts = mapping.carry(attempts)
        resumes = mapping.carry(resumes)
        evaluations = mapping.carry(evaluations)
        checkpointWaits = mapping.carry(checkpointWaits)
        for (token, a) in active { active[token]?.id = mapping[a.id] ?? a.id }
        let earlier = evaluator
        evaluator = Evaluator(workflow: next, workspace: context.workspace, store: context.store, actions: context.actions,
                              records: earlier.records)
        evaluator.inherit(from: earlier, mapping: mapping)
        evaluator.warn = { [reporter] in reporter.warning($0) }
        connectRemote()
        reporter.grow(total: plan.selected.count)
    }
}
