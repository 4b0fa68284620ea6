import Foundation
import FlowCore

/// What `flow status` learned of one Slurm job that the run journal names (`SlurmJournal`).
public struct SlurmJobStatus: Sendable {
    public var step: String
    /// The run that submitted (or adopted) the job.
    public var run: Int64
    public var jobID: String
    /// Slurm's word for it: `PENDING`, `RUNNING`, `COMPLETED`, `FAILED`, `CANCELLED`, `TIMEOUT`,
    /// `NODE_FAIL`, `PREEMPTED`, `OUT_OF_MEMORY`, ... or `UNKNOWN` when no source knows the job
    /// (Slurm could not be asked, or has forgotten a job that left no completion record).
    public var state: String
    /// Where it runs or ran; empty while pending or unknown.
    public var node: String
    /// Still pending or running on the cluster.
    public var active: Bool
    /// Its result was committed to the cache by this `flow status`.
    public var committed = false
    /// One line for people: "Slurm job 812 RUNNING on gpu-a17 (run 4)", "... ended FAILED (exit status 3)".
    public var summary: String
}

/// `flow status`'s look at the cluster: the journal's open Slurm jobs, asked about in one
/// round (completion records first, then one `squeue` and at most one `sacct` for all of
/// them: the same poll `flow run` uses), and the jobs that finished cleanly committed to the
/// cache, so that status tells the truth without a new run.
///
/// Committing takes the workspace lock for the moment it lasts; when a `flow run` holds it,
/// the finished jobs are only shown (that run commits them). When the journal names no open
/// job (the usual case) nothing else is read and Slurm is not called at all.
public enum SlurmStatus {
    public static func survey(context: RunContext, workflow: Workflow, client: SlurmClient = SlurmClient()) -> [String: SlurmJobStatus] {
        // Asked first: there are none usually, and then the steps need no index by name.
        let jobs = SlurmJournal.openJobs(context.state)
        guard !jobs.isEmpty else { return [:] }
        var ids: [String: StepID] = [:]
        for id in workflow.order { ids[workflow[id].name] = id }
        let open = jobs.filter { ids[$0.key] != nil }.sorted { $0.key < $1.key }
        guard !open.isEmpty else { return [:] }
        let executor = SlurmExecutor(client: client, settings: SlurmExecutor.Settings(
            jobsDirectory: context.cacheDirectory + "/jobs", flowExecutable: context.flowExecutable, workflowName: ""))
        for (token, (name, entry)) in open.enumerated() { executor.follow(jobID: entry.step.jobID, step: name, token: token) }
        executor.poll()
        var result: [String: SlurmJobStatus] = [:]
        var finished: [String: SlurmJournal.Entry] = [:]
        while let completion = executor.next(timeout: 0) {
            let (token, termination) = (completion.token, completion.termination)
            let (name, entry) = open[token]
            let state = executor.finalStates[token] ?? "FAILED"
            var s = SlurmJobStatus(step: name, run: entry.run, jobID: entry.step.jobID, state: state,
                                   node: completion.host == "slurm" ? "" : completion.host ?? "",
                                   active: false, summary: "Slurm job \(entry.step.jobID) of run \(entry.run) ")
            if termination.succeeded {
                s.summary += "finished on \(s.node)"
                finished[name] = entry
            } else if case .scheduler(let why) = termination {
                s.summary += "ended \(why)"
            } else {
                s.summary += "ended \(state) (\(termination.description))"
            }
            result[name] = s
        }
        for (token, (name, entry)) in open.enumerated() {
            guard let (state, node, unseen) = executor.state(token: token) else { continue }
            let known = state != "UNKNOWN" && unseen == nil
            var s = SlurmJobStatus(step: name, run: entry.run, jobID: entry.step.jobID, state: known ? state : "UNKNOWN", node: node,
                                   active: known, summary: "Slurm job \(entry.step.jobID) of run \(entry.run) ")
            if known {
                s.summary += state + (node.isEmpty ? "" : " on \(node)") + "; flow run waits for it and commits it"
            } else if let error = executor.lastError {
                s.summary += "in an unknown state (cannot ask Slurm: \(error))"
            } else {
                s.summary += "is unknown to squeue and sacct and left no completion record"
            }
            result[name] = s
        }
        commit(finished, into: &result, context: context, workflow: workflow, ids: ids, executor: executor)
        return result
    }

    /// Commits the finished jobs under the workspace lock, if it is free.
    static func commit(_ finished: [String: SlurmJournal.Entry], into result: inout [String: SlurmJobStatus], context: RunContext,
                       workflow: Workflow, ids: [String: StepID], executor: SlurmExecutor) {
        guard !finished.isEmpty else { return }
        guard let lock = try? WorkspaceLock(stateDirectory: context.stateDirectory, wait: false) else {
            for name in finished.keys { result[name]?.summary += "; the flow run holding this workspace commits it" }
            return
        }
        defer { withExtendedLifetime(lock) {} }
        let router = ExecutorRouter([.local: { LocalExecutor() }, .slurm: { executor }])
        guard let runner = try? Runner(context: context, workflow: workflow, options: RunOptions(), executor: router,
                                       reporter: SilentReporter()) else { return }
        for id in workflow.order {
            let name = workflow[id].name
            guard let entry = finished[name] else { continue }
            let outcome = runner.commitFinishedJob(id, entry: entry)
            result[name]?.committed = outcome == nil
            result[name]?.summary += outcome.map { "; \($0)" } ?? "; committed to the cache now"
        }
        try? context.store.sync()
    }
}

extension Runner {
    /// Commits a step from the completion record of a job that finished after its flow went
    /// away, as the run would have; nil when committed, else why not.
    func commitFinishedJob(_ id: StepID, entry: SlurmJournal.Entry) -> String? {
        let step = workflow[id]
        let work = LeftWork(step: step.name, handle: entry.step.jobID, actionKey: entry.step.key, attempt: entry.step.attempt,
                            logPath: entry.step.log, startedAt: entry.step.startedAt)
        guard let (completion, started, ended) = executor.endedWhileAway(work) else { return "its completion record is gone" }
        let evaluation = evaluator.evaluate(id, forced: false)
        switch evaluation.state {
        case .fresh, .restorable:
            evaluator.settled(id, evaluation.manifest)
            return "its result is already in the cache"
        case .stale:
            guard let key = evaluation.key, key.hex == entry.step.key else {
                evaluator.willRun(id)
                return "not committed: the step or its inputs changed since the job was submitted (flow run runs it again)"
            }
            // The manifest's duration is the command's time on the node, not the time until now.
            let ranFor = max(0, ended.timeIntervalSince(started))
            var a = Active(id: id, evaluation: evaluation, started: Date().addingTimeInterval(-ranFor),
                           attempt: entry.step.attempt, logPath: entry.step.log, handle: entry.step.jobID, kind: .slurm)
            a.completion = completion
            journal.runID = entry.run
            do {
                try commit(a)
            } catch let e as StepCheckError {
                evaluator.willRun(id)
                return "not committed: \(e.message)"
            } catch {
                evaluator.willRun(id)
                return "not committed: \(error)"
            }
            // The journal keeps the job's own times.
            try? context.state.setStep(run: entry.run, step: step.name, state: .succeeded, key: key.hex, jobID: entry.step.jobID,
                                       started: entry.step.startedAt, ended: ended, exitStatus: 0,
                                       attempt: entry.step.attempt, log: entry.step.log, note: "committed by flow status")
            return nil
        }
    }
}

/// A reporter that says nothing (status commits report through `SlurmJobStatus`).
final class SilentReporter: RunReporter {
    func begin(total: Int, runID: Int64, dryRun: Bool) {}
    func stepStarted(_ step: Step, reasons: [StaleReason], attempt: Int) {}
    func stepSettled(_ step: Step, outcome: StepOutcome, note: String) {}
    func wouldRun(_ step: Step, reasons: [StaleReason]) {}
    func stepFailed(_ step: Step, message: String, logTail: [String], logPath: String?) {}
    func warning(_ message: String) {}
    func note(_ message: String) {}
    func end(_ summary: RunSummary, workflow: Workflow) {}
}
