import FlowCore
import XXHash

extension Evaluator {
    /// Toolchain name → digest, for the step's key (empty for a step that declares none).
    func toolchainDigests(_ step: Step) -> [String: Digest128] {
        if step.toolchains.isEmpty { return [:] }
        var result: [String: Digest128] = [:]
        // Probed once for every step that declares the same toolchain: what the probe looks at
        // concerns all of them, so it is the workflow's observation, not this step's.
        workspace.observing(.workflow) {
            for t in step.toolchains { result[t.name] = toolchains.identity(t).0 }
        }
        return result
    }

    /// `Staleness.reasons`, with a changed toolchain told by what changed in it when that is short.
    func staleReasons(current: StepDefinition, previous: StepDefinition?) -> [StaleReason] {
        let reasons = Staleness.reasons(current: current, previous: previous)
        guard !current.toolchains.isEmpty || previous?.toolchains.isEmpty == false else { return reasons }
        return reasons.map { toolchains.refine($0) }
    }
}
