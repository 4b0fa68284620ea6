import Foundation
import FlowCore
import Glibc
import XXHash

/// What `flow run` was asked to do.
public struct RunOptions {
    public var targets: [StepID] = []
    /// Targets named by the base name of a deferred step (`Workflow.deferred`): selected once
    /// they expand (their producers are in `targets`).
    public var deferredTargets: [String] = []
    public var jobs = ProcessInfo.processInfo.activeProcessorCount
    public var keepGoing = false
    public var dryRun = false
    public var forced: Set<StepID> = []
    public var link: LinkMode = .auto
    /// Seconds between SIGTERM and SIGKILL when interrupted.
    public var grace: Double = 30
    public var cpus = ProcessInfo.processInfo.activeProcessorCount
    public var memory = Int64(ProcessInfo.processInfo.physicalMemory)
    public var gpus = 0
    /// Sync the cache before every manifest (power-loss durability per step, ~20 ms each),
    /// rather than at most once a second and at the end of the run.
    public var syncEveryCommit = false
    /// The command line, for the run journal.
    public var commandLine = ""
    public var dagPath = ""
    /// Where steps without their own `executor` setting run (`--executor`).
    public var executor = ExecutorKind.local
    /// Cluster settings from the command line; a step's own settings win, and the free `sbatch`
    /// options of both are passed.
    public var cluster = ClusterSettings()
    /// On Ctrl-C, leave Slurm jobs running (a later run reattaches to them) instead of cancelling them.
    public var detach = false
    /// The `FreshSnapshot` context of this .dag and its `--set` values: when given, a run of the
    /// whole workflow that finds every step fresh saves a snapshot for the next no-op.
    public var snapshotContext: String?
    /// What changed since the fresh snapshot: the steps it knows to be fresh settle as cached
    /// without being evaluated (see `FreshSnapshot.Delta`).
    public var snapshot: FreshSnapshot.Delta?
    public init() {}
}

/// The summary of a run.
public struct RunSummary {
    public var runID: Int64
    public var outcomes: [StepID: StepOutcome] = [:]
    public var interrupted = false
    public var duration: Double = 0
    /// Steps that expand after another step's result (`Workflow.deferred`) and never could.
    public var unexpanded = 0

    public func count(_ o: StepOutcome) -> Int { outcomes.values.filter { $0 == o }.count }
    public var failed: Bool { count(.failed) > 0 || unexpanded > 0 }
}

/// The builder loop of `flow run`: it owns the plan (what is wanted, ready, queued and running,
/// and the resource pools: `Plan`), one executor and the stores, and moves steps through the
/// plan: evaluates each when its dependencies are done, restores or skips what is cached, hands
/// the rest to the executor, and commits each result the moment it finishes, so that an
/// interruption loses only the steps in flight. The journal (`RunJournal`), signals
/// (`InterruptSignals`), timeouts (`TimeoutWatch`) and the fresh snapshot are types of their own.
public final class Runner {
    let context: RunContext
    let options: RunOptions
    let executor: StepExecutor
    let reporter: RunReporter
    var evaluator: Evaluator
    var plan: Plan
    var journal: RunJournal
    let signals = InterruptSignals()
    var timeouts: TimeoutWatch
    var interrupted = false
    /// Deferred steps that could not expand (set at the end of the run).
    var unexpanded = 0

    var workflow: Workflow { plan.workflow }
    var runID: Int64 { journal.runID }

    /// A step handed to the executor and not yet committed, by the token its completion carries.
    struct Active {
        var id: StepID
        var evaluation: Evaluator.Evaluation
        var started: Date
        var attempt: Int
        var logPath: String
        var handle: String
        /// Where it runs: a local process, or a cluster job (its handle is then the job id).
        var kind: ExecutorKind
        /// What the executor said of its end, once it has ended.
        var completion: Completion?
        /// Held from before the start until the result is committed (see `CheckpointLock`).
        var checkpointLock: CheckpointLock?
    }
    var active: [Int: Active] = [:]
    var nextToken = 0
    /// While a finished step is committed, the steps started in its slot meanwhile say so only
    /// afterwards, so that the transcript keeps the order of a start after the commit (see `finish`).
    var heldStartReports: [() -> Void]?

    /// What the builder knows of each step beyond the plan: its evaluation once stale, its
    /// attempts, its resumptions from a checkpoint, whether it waited for its checkpoint directory.
    var evaluations: [StepID: Evaluator.Evaluation] = [:]
    var attempts: [StepID: Int] = [:]
    var resumes: [StepID: Int] = [:]
    var checkpointWaits: Set<StepID> = []
    /// The base names of the targets, for the instances that deferred fan-outs add (`grow`).
    var targetNames: Set<String> = []
    /// What the state records as produced in the workspace, kept current as steps settle.
    var produced: [String: StateStore.ProducedOutput] = [:]
    /// The outputs a dry run has said it would remove: a dry run removes nothing, so each look
    /// (again after a fan-out expands) finds them again.
    var announcedOrphans: Set<String> = []
    /// Work an earlier run left (Slurm jobs), by step name, to reattach to instead of starting again.
    var leftWork: [String: LeftWork] = [:]

    /// The remote cache: results this machine lacks are fetched from it before a step would run,
    /// and what runs here is uploaded to it (see `RemoteResults`).
    var remote: RemoteResults? { context.remote }

    func connectRemote() {
        evaluator.remote = remote
        evaluator.fetchFromRemote = !options.dryRun
        remote?.warn = { [reporter] in reporter.warning($0) }
    }

    /// Loads the workflow again, for fan-outs over files that steps of this run have now produced
    /// (`Workflow.deferred`); the workspace's `knownResults` say what those steps produced.
    public var replan: (() throws -> Workflow)?

    public init(context: RunContext, workflow: Workflow, options: RunOptions, executor: StepExecutor, reporter: RunReporter) throws {
        self.context = context
        self.options = options
        self.executor = executor
        self.reporter = reporter
        evaluator = try context.evaluator(for: workflow)
        evaluator.warn = { [reporter] in reporter.warning($0) }
        let machine = ResourcePool(jobs: options.jobs, cpus: options.cpus, memory: options.memory, gpus: options.gpus)
        plan = Plan(workflow: workflow, targets: options.targets, pools: Plan.pools(machine: machine), defaultExecutor: options.executor)
        journal = RunJournal(state: context.state)
        timeouts = TimeoutWatch(grace: min(options.grace, 10))
        targetNames = Set(options.targets.map { workflow[$0].baseName } + options.deferredTargets)
        connectRemote()
    }

    public func run() throws -> RunSummary {
        let start = Date()
        if !options.dryRun, let previous = try context.state.interruptedRun() {
            reporter.note("resuming run \(previous.run): \(previous.done) steps done, \(previous.inFlight) interrupted")
        }
        if !options.dryRun {
            FreshSnapshot.invalidate(stateDirectory: context.stateDirectory)
            context.removeLeftovers()
            findLeftWork()
            // Results an earlier run could not upload go now, beside this run's work.
            remote?.uploadPending()
            journal.runID = try context.state.beginRun(command: options.commandLine, dag: options.dagPath, variables: workflow.variables)
        }
        restrictToSnapshot()
        try handleOrphans()
        reporter.begin(total: plan.selected.count, runID: runID, dryRun: options.dryRun)
        signals.install()
        defer { signals.restore() }

        while true {
            if signals.count > 0 && !interrupted { interrupt() }
            // Evaluate every step whose dependencies are all done (settling one may ready others).
            journal.holdCached()
            while !interrupted, let id = plan.nextReady() { consider(id) }
            journal.writeHeldCached()
            startQueued()
            if plan.isIdle {
                if !interrupted && !plan.stopped, try expandDeferred() { continue }
                break
            }
            if let completion = executor.next(timeout: 0.1) {
                try finish(completion)
            }
            enforceTimeouts()
            reporter.tick(runningSteps(), summary: summary)
        }
        for id in plan.unsettled {
            // Interrupted is for steps that were running; these never started.
            settle(id, interrupted ? .notStarted : .skipped, note: interrupted ? "interrupted before it started" : "not started")
        }
        for d in workflow.deferred where wanted(d) {
            if options.dryRun {
                reporter.note("\(d.displayName): expands after \(d.after) has run")
            } else if !interrupted {
                // The work is incomplete: never a success.
                reporter.warning("\(d.displayName) was not expanded, \(d.after) has no result: the run is incomplete")
                unexpanded += 1
            }
        }
        if let remote, !options.dryRun, remote.mode.uploads {
            let t = remote.finishUploads()
            if t.results > 0 || t.failed > 0 {
                let mb = String(format: "%.1f MB", Double(t.bytes) / 1e6)
                reporter.note("uploaded \(t.results) result\(t.results == 1 ? "" : "s") to the remote cache (\(t.objects) objects, \(mb))"
                              + (t.failed > 0 ? "; \(t.failed) not uploaded" : ""))
            }
        }
        var summary = self.summary
        summary.duration = Date().timeIntervalSince(start)
        context.workspace.saveStatCache()
        try? context.store.sync()
        if !options.dryRun {
            let status: RunStatus = summary.interrupted ? .interrupted : (summary.failed ? .failed : .succeeded)
            try context.state.endRun(runID, status: status, summary: summaryText())
        }
        saveSnapshotIfAllFresh()
        reporter.end(summary, workflow: workflow)
        return summary
    }

    /// A step that expands later is part of this run when the whole workflow is, or when it (or
    /// what reads it, which expands later too) was named: an unrelated target is complete without it.
    func wanted(_ deferred: DeferredStep) -> Bool {
        (options.targets.isEmpty && options.deferredTargets.isEmpty) || targetNames.contains(deferred.baseName)
    }

    /// The run so far.
    var summary: RunSummary {
        RunSummary(runID: runID, outcomes: plan.outcomes, interrupted: interrupted, duration: 0, unexpanded: unexpanded)
    }

    /// Outputs of step instances that left the workflow: removed before anything is evaluated
    /// (a dry run evaluates as if they were, and says what it would remove). See `OrphanOutputs`.
    func handleOrphans() throws {
        produced = try context.state.producedOutputs(workflow: workflow.id)
        let found = OrphanOutputs(workflow: workflow, produced: produced, workspace: context.workspace)
        guard !found.orphans.isEmpty else { return }
        if options.dryRun {
            context.workspace.hiddenPaths.formUnion(found.removable.map(\.path))
            for o in found.removable where announcedOrphans.insert(o.path).inserted {
                reporter.note("would remove \(o.path): an output of \(o.step), which is no longer in the workflow")
            }
            return
        }
        let (removed, kept) = try found.remove(workspace: context.workspace, state: context.state)
        for o in removed {
            reporter.note("removed \(o.path): an output of \(o.step), which is no longer in the workflow (its result stays in the cache)")
            produced[o.path] = nil
        }
        for o in kept {
            reporter.warning("kept \(o.path): it was an output of \(o.step), which is no longer in the workflow, but it changed since flow wrote it")
            produced[o.path] = nil
        }
    }

    /// Records in the state that the outputs of `manifest` are in the workspace for step `id`
    /// (only what changed, so a no-op writes nothing).
    func recordProduced(_ id: StepID, _ manifest: Manifest) throws {
        let name = workflow[id].name
        var changed: [(path: String, digest: Digest128)] = []
        for out in manifest.outputs {
            guard let d = Digest128(hex: out.digest) else { continue }
            if produced[out.path] != StateStore.ProducedOutput(step: name, digest: d) {
                changed.append((out.path, d))
                produced[out.path] = StateStore.ProducedOutput(step: name, digest: d)
            }
        }
        if !changed.isEmpty { try context.state.recordProduced(step: name, workflow: workflow.id, changed) }
    }

    /// Takes the steps the fresh snapshot knows to be fresh as such (`Evaluator.restrict`), but
    /// for those whose record names another result (settling them records this one) and those
    /// an earlier run left running.
    func restrictToSnapshot() {
        guard let snapshot = options.snapshot, options.forced.isEmpty, var known = snapshot.knownFresh(in: workflow, seen: context.workspace.observations) else { return }
        for (id, key) in known where evaluator.records[workflow[id].name]?.key != key || leftWork[workflow[id].name] != nil {
            known[id] = nil
        }
        _ = evaluator.restrict(to: known)
    }

    /// After a run of the whole workflow that left every step done, records what it looked at
    /// (see `FreshSnapshot`): the steps that ran or were restored are marked to be evaluated by
    /// the next status or run, which has not seen their outputs as they are now.
    func saveSnapshotIfAllFresh() {
        let done: Set<StepOutcome> = [.cached, .ran, .restored]
        guard let snapshotContext = options.snapshotContext, !options.dryRun, !interrupted, options.targets.isEmpty,
              workflow.deferred.isEmpty, unexpanded == 0, summary.outcomes.count == workflow.steps.count,
              summary.outcomes.values.allSatisfy({ done.contains($0) }),
              let durations = try? context.state.durations() else { return }
        // The previous snapshot's steps: in the same order when it is of the same workflow.
        let before = options.snapshot?.steps ?? []
        let samePositions = options.snapshot?.listsSteps(inOrderOf: workflow) ?? false
        let previous = samePositions ? [:] : Dictionary(before.map { ($0.name, $0) }) { a, _ in a }
        let steps = workflow.order.enumerated().map { i, id in
            let name = workflow[id].name
            let manifest = evaluator.manifests[id]
            return FreshSnapshot.StepInfo(name: name, lastDuration: durations[name],
                                          outputSize: manifest?.totalSize ?? (samePositions ? before[i] : previous[name])?.outputSize,
                                          key: manifest.flatMap { Digest128(hex: $0.key) } ?? evaluator.knownFresh[id],
                                          dirty: plan.outcomes[id] != .cached)
        }
        let taken = evaluator.takenFresh
        FreshSnapshot.save(context, workflow: workflow, contextDigest: snapshotContext, steps: steps,
                           previous: taken.isEmpty ? nil : options.snapshot, taken: taken)
    }

    func runningSteps() -> [RunningStep] {
        active.values.sorted { $0.started < $1.started }.map { a in
            RunningStep(name: workflow[a.id].name, started: a.started, attempt: a.attempt,
                        progressPath: context.progressFile(run: runID, step: workflow[a.id].name), handle: a.handle)
        }
    }

    func summaryText() -> String {
        [StepOutcome.ran, .cached, .restored, .failed, .skipped, .interrupted, .notStarted].compactMap { o in
            let n = summary.count(o)
            return n > 0 ? "\(n) \(o.rawValue)" : nil
        }.joined(separator: ", ")
    }

    /// For a command that ends with the run: leaves the bulk of what the run knew (the workflow,
    /// its evaluations and records, what the workspace observed) to the process's exit
    /// (`LeftForExit`) and closes the state now, which that bulk holds (through the workspace)
    /// and which must close to fold its log in and seal itself. The executor is not left: the
    /// supervisor still stops when the runner goes. Nothing may use the runner afterwards.
    public func leaveToExit() {
        LeftForExit.leave(evaluator, context.workspace, plan, evaluations, produced)
        context.state.close()
    }

    /// A step whose dependencies are done: cached, restorable, or to be run.
    func consider(_ id: StepID) {
        let evaluation = evaluator.evaluate(id, forced: options.forced.contains(id))
        switch evaluation.state {
        case .fresh:
            evaluator.settled(id, evaluation.manifest)
            if !options.dryRun {
                journal(id, .cached, key: evaluation.key)
                noteInWorkspace(id, evaluation)
            }
            settle(id, .cached)
        case .restorable(let reasons):
            if options.dryRun {
                evaluator.settled(id, evaluation.manifest)
                settle(id, .restored, note: reasons.map(\.description).joined(separator: "; "))
                return
            }
            do {
                try restore(id, evaluation.manifest!)
                evaluator.settled(id, evaluation.manifest)
                journal(id, .restored, key: evaluation.key)
                noteInWorkspace(id, evaluation)
                settle(id, .restored, note: reasons.map(\.description).joined(separator: "; "))
            } catch let e as MissingObjectError {
                reporter.warning("\(workflow[id].name): \(e); running the step instead")
                enqueue(id, Evaluator.Evaluation(state: .stale([.outputMissing(path: e.destination)]), key: evaluation.key,
                                                 definition: evaluation.definition, inputStats: evaluation.inputStats))
            } catch let e as CorruptObjectError {
                reporter.warning("\(workflow[id].name): \(e); running the step instead")
                context.actions.remove(evaluation.key!)
                enqueue(id, Evaluator.Evaluation(state: .stale([.outputModified(path: e.path)]), key: evaluation.key,
                                                 definition: evaluation.definition, inputStats: evaluation.inputStats))
            } catch let e as CorruptManifestError {
                // Inline bytes that do not match their digest: `trustedManifest` already refuses
                // such a manifest, so this is a second line of defence.
                reporter.warning("\(workflow[id].name): \(e)")
                context.actions.remove(evaluation.key!)
                enqueue(id, Evaluator.Evaluation(state: .stale(reasons), key: evaluation.key,
                                                 definition: evaluation.definition, inputStats: evaluation.inputStats))
            } catch {
                reporter.stepFailed(workflow[id], message: "cannot restore outputs: \(error)", logTail: [], logPath: nil)
                fail(id)
            }
        case .stale(let reasons):
            if options.dryRun {
                evaluator.willRun(id)
                reporter.wouldRun(workflow[id], reasons: reasons)
                settle(id, .wouldRun)
                return
            }
            enqueue(id, evaluation)
        }
    }

    /// A cached result is now what the workspace holds for step `id`: its outputs are recorded as
    /// produced, and its definition becomes the step's record, so that the next change is
    /// explained against what is in the workspace (not against the last run that executed it).
    func noteInWorkspace(_ id: StepID, _ evaluation: Evaluator.Evaluation) {
        guard let manifest = evaluation.manifest, let key = evaluation.key, let definition = evaluation.definition else { return }
        try? recordProduced(id, manifest)
        let name = workflow[id].name
        guard evaluator.records[name]?.key != key else { return }
        try? context.state.saveRecord(step: name, StateStore.StepRecord(
            key: key, definition: definition, duration: manifest.duration, outputSize: manifest.totalSize,
            finishedAt: Date(timeIntervalSince1970: manifest.finishedAt), runID: runID))
    }

    /// A stale step waits for its resources.
    func enqueue(_ id: StepID, _ evaluation: Evaluator.Evaluation) {
        evaluations[id] = evaluation
        plan.queue(id)
    }

    /// Records how step `id` ended up, says so, and skips everything downstream of a failure.
    func settle(_ id: StepID, _ outcome: StepOutcome, note: String = "") {
        let skipped = plan.settle(id, outcome)
        reporter.stepSettled(workflow[id], outcome: outcome, note: note)
        if let state = RunJournal.state(of: outcome) { journal(id, state) }
        for (d, cause) in skipped {
            reporter.stepSettled(workflow[d], outcome: .skipped,
                                 note: "upstream \(workflow[cause].name) \(plan.outcomes[cause] == .failed ? "failed" : "skipped")")
            journal(d, .skipped)
        }
    }

    /// Step `id` failed: it settles, and unless the run keeps going nothing new starts.
    func fail(_ id: StepID) {
        settle(id, .failed)
        if !options.keepGoing { plan.stop() }
    }

    func journal(_ id: StepID, _ state: JournalState, key: Digest128? = nil, pid: String = "", started: Date? = nil,
                 exit: Int32? = nil, attempt: Int = 1, log: String = "", note: String = "", kind: ExecutorKind = .local) {
        journal.record(workflow[id].name, state, key: key, handle: pid, started: started, exit: exit, attempt: attempt,
                       log: log, note: note, kind: kind)
    }

    /// Starts queued steps, in order, while their pools have room. A checkpointed step first
    /// takes the lock of its checkpoint directory (see `takeCheckpointLock`).
    func startQueued() {
        guard !interrupted else { return }
        var locks: [StepID: CheckpointLock] = [:]
        var settledMeanwhile: [StepID] = []
        // The closure must not read `plan` (it runs inside `plan.admit`): the workflow is read first.
        let steps = workflow
        let admitted = plan.admit { id in
            guard steps[id].checkpoint, let key = evaluations[id]?.key else { return .start }
            switch takeCheckpointLock(id, name: steps[id].name, key: key) {
            case .wait: return .wait
            case .settled:
                settledMeanwhile.append(id)
                return .drop
            case .held(let l):
                locks[id] = l
                return .start
            case .unlocked: return .start
            }
        }
        // Evaluated again outside `admit`: it may settle (and ready others) or queue the step again.
        for id in settledMeanwhile { consider(id) }
        for (id, grant) in admitted {
            let step = workflow[id]
            if plan.executor(of: id).usesMachineResources && plan.pools[.local]!.exceedsMachine(step.resources) {
                reporter.warning("\(step.name) asks for more than this machine has; it runs with what there is")
            }
            do {
                try launch(id, grant: grant, checkpointLock: locks[id])
            } catch {
                plan.release(id)
                reporter.stepFailed(step, message: "\(error)", logTail: [], logPath: nil)
                fail(id)
            }
        }
    }

    enum CheckpointLockOutcome {
        case held(CheckpointLock)
        /// Another attempt holds the lock: try again later.
        case wait
        /// While this step waited, the attempt that held the lock committed this very result.
        case settled
        /// The lock could not be made (a read-only or full cache): the step runs without it.
        case unlocked
    }

    /// The lock of a checkpointed step's directory. A step that had to wait for it is evaluated
    /// again once it has it: the other attempt (another workspace on this cache, or what a killed
    /// run left running) may have committed the result meanwhile.
    func takeCheckpointLock(_ id: StepID, name: String, key: Digest128) -> CheckpointLockOutcome {
        let lock: CheckpointLock?
        do {
            lock = try CheckpointLock(checkpointDirectory: context.checkpointDirectory(key))
        } catch {
            reporter.warning("\(name): \(error); running it without a checkpoint lock")
            return .unlocked
        }
        guard let lock else {
            if checkpointWaits.insert(id).inserted {
                reporter.note("\(name): its checkpoint directory is in use by another run of the same step; waiting for it")
            }
            return .wait
        }
        guard checkpointWaits.contains(id) else { return .held(lock) }
        let again = evaluator.evaluate(id, forced: options.forced.contains(id))
        guard case .stale = again.state else { return .settled }
        return .held(lock)
    }

    // MARK: interruption

    func interrupt() {
        interrupted = true
        plan.stop()
        if options.detach { detachLeftRunning() }
        guard !active.isEmpty else { return }
        reporter.warning("interrupted: stopping \(active.count) running step(s) (SIGTERM, then SIGKILL after \(Int(options.grace)) s; Ctrl-C again to kill now)")
        executor.signalAll(SIGTERM)
        let deadline = Date().addingTimeInterval(options.grace)
        while !active.isEmpty {
            if signals.count > 1 || Date() > deadline {
                executor.signalAll(SIGKILL)
            }
            if let completion = executor.next(timeout: 0.1) {
                let termination = completion.termination
                if let a = active.removeValue(forKey: completion.token) {
                    release(a, token: completion.token)
                    // Not committed even if it exited 0: a step that traps SIGTERM may exit 0 with
                    // half its work done (a training script that saves and exits cleanly), and a
                    // cached partial result is far worse than running a finished step again.
                    let note = termination.succeeded ? "exited 0 after SIGTERM; not cached, as it may have stopped early"
                                                     : termination.description
                    journal(a.id, .interrupted, key: a.evaluation.key, pid: a.handle, started: a.started,
                            exit: exitCode(termination), attempt: a.attempt, log: a.logPath, note: note, kind: a.kind)
                    plan.settle(a.id, .interrupted)
                    reporter.stepSettled(workflow[a.id], outcome: .interrupted, note: note)
                }
            }
        }
    }

    func exitCode(_ t: Termination) -> Int32? {
        if case .exited(let s) = t { return s }
        if case .signaled(let s) = t { return 128 + s }
        return nil
    }

    /// Sends the signals `timeout` calls for: SIGTERM at the limit, SIGKILL after the grace period.
    func enforceTimeouts() {
        for action in timeouts.due(now: Date()) {
            switch action {
            case .stop(let token, let limit):
                guard let a = active[token] else { continue }
                reporter.warning("\(workflow[a.id].name) exceeded its timeout of \(limit) s: stopping it")
                executor.signal(token: token, SIGTERM)
            case .kill(let token):
                executor.signal(token: token, SIGKILL)
            }
        }
    }
}
