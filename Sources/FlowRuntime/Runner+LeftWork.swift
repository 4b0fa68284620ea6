import Foundation
import FlowCore

/// The runner's side of work that can outlive it (Slurm jobs): which executor a step goes to,
/// reattaching to the work of an interrupted run, detaching on Ctrl-C, and resuming checkpointed
/// steps that their executor stopped (a time limit, a preemption). Everything executor-specific
/// is behind `StepExecutor`.
extension Runner {
    /// A checkpointed step is started again at most this many times after its executor stopped it.
    static let maxResumes = 20

    /// A step left the executor's hands: its resources go back and its timeout is not watched.
    func release(_ a: Active, token: Int) {
        plan.finished(a.id)
        timeouts.forget(token)
    }

    /// Remembers the work that earlier runs left behind (killed, detached, or failed before it
    /// ended): what the journal names (see `SlurmJournal`), and what the executors find that the
    /// last run started but could not journal. Looks for the latter only when the last run was
    /// interrupted or died.
    func findLeftWork() {
        for (name, entry) in SlurmJournal.openJobs(context.state) {
            leftWork[name] = LeftWork(step: name, handle: entry.step.jobID, actionKey: entry.step.key, attempt: entry.step.attempt,
                                      logPath: entry.step.log, startedAt: entry.step.startedAt)
        }
        guard let last = try? context.state.runs(limit: 1).first, last.status == .running || last.status == .interrupted else { return }
        let journaled = Dictionary(((try? context.state.steps(ofRun: last.id)) ?? []).map { ($0.step, $0.jobID) }) { a, _ in a }
        let found = executor.unrecordedWork(run: last.id, workspace: context.workspace.root, steps: Set(workflow.steps.map(\.name)),
                                            journaled: journaled)
        for (step, work) in found {
            leftWork[step] = work
            reporter.note("\(step): found Slurm job \(work.handle), submitted by run \(last.id) just before that flow was stopped")
        }
    }

    /// Follows the step's work from an interrupted run when its executor still has it; false when
    /// there is none and the step must start.
    func reattach(_ id: StepID, _ work: LeftWork, as process: ProcessDescription, grant: ResourcePool.Grant) -> Bool {
        let step = workflow[id]
        let token = nextToken
        switch executor.reattach(work, as: process, token: token) {
        case .gone:
            return false
        case .cancelled(let why):
            reporter.warning(why)
            return false
        case .following:
            break
        }
        nextToken += 1
        attempts[id] = work.attempt
        let started = work.startedAt ?? Date()
        let evaluation = evaluations[id]!
        active[token] = Active(id: id, evaluation: evaluation, started: started, attempt: work.attempt,
                               logPath: work.logPath, handle: work.handle, kind: process.executor)
        journal(id, .running, key: evaluation.key, pid: work.handle, started: started, attempt: work.attempt, log: work.logPath,
                kind: process.executor)
        reporter.note("\(step.name): reattached to Slurm job \(work.handle)")
        reporter.stepStarted(step, reasons: evaluation.state.reasons, attempt: work.attempt)
        return true
    }

    /// `--detach`: work that can outlive flow keeps running; the journal keeps it for the next run.
    func detachLeftRunning() {
        for (token, a) in active where executor.detach(token: token) {
            active[token] = nil
            release(a, token: token)
            journal(a.id, .running, key: a.evaluation.key, pid: a.handle, started: a.started, attempt: a.attempt, log: a.logPath, kind: a.kind)
            plan.settle(a.id, .interrupted)
            reporter.stepSettled(workflow[a.id], outcome: .interrupted,
                                 note: "left running as Slurm job \(a.handle); run flow again to wait for it and commit its result")
        }
    }

    /// A checkpointed step that its executor stopped (a time limit, a preemption, a node failure)
    /// after it wrote to its checkpoint directory starts again (without using up a retry) to resume.
    func resumeFromCheckpoint(_ a: Active, _ failure: String) -> Bool {
        guard workflow[a.id].checkpoint, let key = a.evaluation.key, !interrupted, !plan.stopped,
              resumes[a.id, default: 0] < Runner.maxResumes else { return false }
        let dir = context.checkpointDirectory(key)
        let files = (try? ContentHash.listFiles(dir)) ?? []
        // Nanosecond modification times (FileManager's dates here are whole seconds).
        let since = Int64(a.started.timeIntervalSince1970 * 1e9)
        let progressed = files.contains { f in (FileStat.of(dir + "/" + f)?.mtimeNs ?? 0) > since }
        guard progressed else { return false }
        resumes[a.id, default: 0] += 1
        attempts[a.id] = a.attempt - 1
        journal(a.id, .interrupted, key: key, pid: a.handle, started: a.started, attempt: a.attempt, log: a.logPath,
                note: "\(failure); resuming from its checkpoint", kind: a.kind)
        reporter.warning("\(workflow[a.id].name): \(failure) after writing a checkpoint; submitting a new job to resume from it")
        plan.queue(a.id, first: true)
        return true
    }

    /// The outputs as read here must be those hashed where the step ran: otherwise the shared
    /// file system has not caught up yet (or something changed them), and the result is not cached.
    func checkAgainstRecord(_ a: Active, _ outputs: [Manifest.Output]) throws {
        guard let completion = a.completion, let host = completion.host else { return }
        for o in outputs {
            if let theirs = completion.outputDigests[o.path], theirs != o.digest {
                throw StepCheckError(message: "output '\(o.path)' differs from what node \(host) hashed (\(theirs)): "
                                     + "is the file system shared and consistent between this machine and the nodes?")
            }
        }
    }
}
