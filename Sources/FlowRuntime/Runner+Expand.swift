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

    /// Continues the run on `next`, a larger version of the workflow: outcomes, results and
    /// pending steps carry over by step name; the selection and what is ready are worked out anew.
    func adopt(_ next: Workflow) {
        let old = workflow
        var newID: [String: StepID] = [:]
        for step in next.steps { newID[step.name] = step.id }
        func map<V>(_ d: [StepID: V]) -> [StepID: V] {
            var result: [StepID: V] = [:]
            for (id, v) in d { if let n = newID[old[id].name] { result[n] = v } }
            return result
        }
        summary.outcomes = map(summary.outcomes)
        attempts = map(attempts)
        resumes = map(resumes)
        evaluations = map(evaluations)
        checkpointWaits = Set(checkpointWaits.compactMap { newID[old[$0].name] })
        let manifests = map(evaluator.manifests)
        let pending = Set(evaluator.pending.compactMap { newID[old[$0].name] })
        done = Set(done.compactMap { newID[old[$0].name] })
        workflow = next
        evaluator = Evaluator(workflow: next, workspace: context.workspace, store: context.store, actions: context.actions,
                              records: evaluator.records)
        evaluator.manifests = manifests
        evaluator.pending = pending
        evaluator.warn = { [reporter] in reporter.warning($0) }
        connectRemote()
        // The selection: what was selected before, by name, and the new instances of the steps
        // that expanded (all of them when no target was named).
        var targets = selectedNames.compactMap { newID[$0] }
        if options.targets.isEmpty {
            targets = next.steps.map(\.id)
        } else {
            let expanded = Set(old.deferred.map(\.baseName))
            targets += next.steps.filter { expanded.contains($0.baseName) && targetNames.contains($0.baseName) }.map(\.id)
        }
        selected = next.closure(of: targets)
        selectedNames = Set(selected.map { next[$0].name })
        unmet = [:]
        ready = []
        for id in next.order where selected.contains(id) && summary.outcomes[id] == nil {
            unmet[id] = next[id].dependencies.filter { selected.contains($0) && !done.contains($0) }.count
            if unmet[id] == 0 { ready.append(id) }
        }
        reporter.grow(total: selected.count)
    }
}
