import Foundation
import FlowCore

/// The runner's Slurm side: which steps go to Slurm and with what options, reattaching to the
/// jobs of an interrupted run, detaching on Ctrl-C, Slurm failure messages, and resuming
/// checkpointed steps that hit their time limit or were preempted.
extension Runner {
    /// A checkpointed step is resubmitted at most this many times after TIMEOUT, PREEMPTED or NODE_FAIL.
    static let maxResumes = 20

    var slurmDispatch: SlurmDispatch? { executor as? SlurmDispatch }

    func isSlurm(_ step: Step) -> Bool {
        (step.executorOptions["executor"] ?? options.executor) == "slurm"
    }

    /// The command line's cluster options, overridden by the step's; `sbatch` options of both are kept.
    func clusterOptions(for step: Step) -> [String: String] {
        var o = options.clusterOptions
        for (k, v) in step.executorOptions where k != "sbatch" { o[k] = v }
        let sbatch = [options.clusterOptions["sbatch"], step.executorOptions["sbatch"]].compactMap { $0 }.filter { !$0.isEmpty }
        o["sbatch"] = sbatch.isEmpty ? nil : sbatch.joined(separator: " ")
        o["executor"] = "slurm"
        o[SlurmExecutor.outputsOption] = step.outputs.map(\.path).joined(separator: "\n")
        o[SlurmExecutor.keyOption] = evaluations[step.id]?.key?.hex
        return o
    }

    func release(_ a: Active) {
        if a.cluster { clusterPool.release(a.grant) } else { pool.release(a.grant) }
    }

    /// Remembers the Slurm jobs that earlier runs left behind (killed, detached, or failed before
    /// they ended), to adopt rather than submit again (see `SlurmJournal`).
    func findDetachedJobs() {
        for (name, entry) in SlurmJournal.openJobs(context.state) { detachedJobs[name] = entry.step }
        findUnjournaledJobs()
    }

    /// Follows the step's job from an interrupted run when it is still alive or finished cleanly;
    /// false when there is none and a job must be submitted.
    func adoptDetachedJob(_ id: StepID, evaluation: Evaluator.Evaluation, grant: ResourcePool.Grant, attempt: Int) -> Bool {
        let step = workflow[id]
        guard let entry = detachedJobs.removeValue(forKey: step.name), let dispatch = slurmDispatch else { return false }
        guard entry.key == evaluation.key?.hex else {
            if dispatch.slurm.isAliveOrFinished(jobID: entry.jobID, step: step.name) {
                reporter.warning("\(step.name) changed since Slurm job \(entry.jobID) was submitted: cancelling that job, submitting a new one")
                try? dispatch.slurm.client.cancel([entry.jobID])
            }
            return false
        }
        guard dispatch.slurm.isAliveOrFinished(jobID: entry.jobID, step: step.name) else { return false }
        let token = nextToken
        nextToken += 1
        dispatch.adopt(jobID: entry.jobID, step: step.name, token: token)
        attempts[id] = entry.attempt
        let started = entry.startedAt ?? Date()
        active[token] = Active(id: id, evaluation: evaluation, grant: grant, started: started, attempt: entry.attempt,
                               logPath: entry.log, handle: entry.jobID, cluster: true)
        journal(id, "running", key: evaluation.key, pid: entry.jobID, started: started, attempt: entry.attempt, log: entry.log, cluster: true)
        reporter.note("\(step.name): reattached to Slurm job \(entry.jobID)")
        reporter.stepStarted(step, reasons: evaluation.state.reasons, attempt: entry.attempt)
        return true
    }

    /// `--detach`: Slurm jobs keep running; the journal keeps their ids for the next run.
    func detachClusterJobs() {
        guard let dispatch = slurmDispatch else { return }
        for (token, a) in active where a.cluster {
            active[token] = nil
            release(a)
            dispatch.forget(token: token)
            journal(a.id, "running", key: a.evaluation.key, pid: a.handle, started: a.started, attempt: a.attempt, log: a.logPath, cluster: true)
            summary.outcomes[a.id] = .interrupted
            reporter.stepSettled(workflow[a.id], outcome: .interrupted,
                                 note: "left running as Slurm job \(a.handle); run flow again to wait for it and commit its result")
        }
    }

    /// "Slurm job 12 ended TIMEOUT", "Slurm job 13 ended FAILED (exit status 3)".
    func slurmFailure(_ a: Active, token: Int, _ termination: Termination) -> String {
        if case .scheduler(let state) = termination { return "Slurm job \(a.handle) ended \(state)" }
        let state = slurmDispatch?.slurm.finalStates[token] ?? "FAILED"
        return "Slurm job \(a.handle) ended \(state) (\(termination.description))"
    }

    /// A checkpointed step stopped by its time limit, a preemption or a node failure after writing
    /// to its checkpoint directory goes back to the queue (without using up a retry) to resume.
    func resumeFromCheckpoint(_ a: Active, _ termination: Termination) -> Bool {
        guard case .scheduler(let state) = termination, ["TIMEOUT", "PREEMPTED", "NODE_FAIL"].contains(state),
              workflow[a.id].checkpoint, let key = a.evaluation.key, !summary.interrupted, !stopStarting,
              resumes[a.id, default: 0] < Runner.maxResumes else { return false }
        let dir = context.checkpointDirectory(key)
        let files = (try? ContentHash.listFiles(dir)) ?? []
        // Nanosecond modification times (FileManager's dates here are whole seconds).
        let since = Int64(a.started.timeIntervalSince1970 * 1e9)
        let progressed = files.contains { f in (FileStat.of(dir + "/" + f)?.mtimeNs ?? 0) > since }
        guard progressed else { return false }
        resumes[a.id, default: 0] += 1
        attempts[a.id] = a.attempt - 1
        journal(a.id, "interrupted", key: key, pid: a.handle, started: a.started, attempt: a.attempt, log: a.logPath,
                note: "Slurm job \(a.handle) ended \(state); resuming from its checkpoint", cluster: true)
        reporter.warning("\(workflow[a.id].name): Slurm job \(a.handle) ended \(state) after writing a checkpoint; submitting a new job to resume from it")
        waiting.insert(a.id, at: 0)
        return true
    }

    func completionRecord(_ a: Active) -> SlurmCompletionRecord? {
        guard let slurm = slurmDispatch?.slurm else { return nil }
        return SlurmCompletionRecord.read(SlurmCompletionRecord.path(slurm.recordPattern(step: workflow[a.id].name), job: a.handle))
    }

    /// The outputs as read here must be those the node hashed: otherwise the shared file system
    /// has not caught up yet (or something changed them), and the result is not cached.
    func checkAgainstRecord(_ a: Active, _ outputs: [Manifest.Output]) throws {
        guard a.cluster, let record = completionRecord(a) else { return }
        for o in outputs {
            if let theirs = record.outputs[o.path], theirs != o.digest {
                throw StepCheckError(message: "output '\(o.path)' differs from what node \(record.node) hashed (\(theirs)): "
                                     + "is the file system shared and consistent between this machine and the nodes?")
            }
        }
    }
}
