import Foundation
import FlowCore
import Glibc

/// Runs steps as Slurm batch jobs: one sbatch job per step, whose script (`SlurmScript`) runs
/// `flow exec`. Polls once per interval for all of its jobs: the completion records on the
/// shared file system first, then one `squeue` call, then one `sacct` call for jobs squeue no
/// longer knows. A pending or running job is never given up on by a timeout of flow's own.
public final class SlurmExecutor: StepExecutor {
    public struct Settings: Sendable {
        /// Seconds between polls (FLOW_SLURM_POLL; default 5).
        public var pollInterval: Double
        /// Where scripts and completion records go: `<cache>/jobs` (must be on the shared file system).
        public var jobsDirectory: String
        public var flowExecutable: String
        /// For job names: `flow.<workflow>.<step>`.
        public var workflowName: String
        /// Seconds of warning (SIGUSR1) a checkpointed step gets before its time limit.
        public var checkpointWarning: Int = 120
        /// Seconds a job may be unknown to squeue, sacct and the record directory before it is declared lost.
        public var lostAfter: Double = 120

        public init(jobsDirectory: String, flowExecutable: String, workflowName: String,
                    pollInterval: Double = Double(ProcessInfo.processInfo.environment["FLOW_SLURM_POLL"] ?? "") ?? 5) {
            self.jobsDirectory = jobsDirectory
            self.flowExecutable = flowExecutable
            self.workflowName = workflowName
            self.pollInterval = max(0.05, pollInterval)
        }
    }

    struct Job {
        var id: String
        var step: String
        var recordPattern: String
        var state = "PENDING"
        /// Where squeue last said it runs (empty while pending).
        var node = ""
        var unseenSince: Date?
    }

    public let client: SlurmClient
    public let settings: Settings
    private var jobs: [Int: Job] = [:]
    private var finished: [Completion] = []
    /// The Slurm state each ended job was last seen in (`COMPLETED`, `FAILED`, `TIMEOUT`, ...), by token.
    public private(set) var finalStates: [Int: String] = [:]
    /// Called with (token, job id, new state) when a job's state changes (PENDING → RUNNING, ...).
    public var onStateChange: ((Int, String, String) -> Void)?
    private var lastPoll = Date.distantPast
    /// Wakes `next` when a completion record is written (nil where inotify cannot watch).
    private var watch: RecordWatch?
    private var cancelled: Set<String> = []
    /// Why the last poll could not ask Slurm (squeue or sacct failed), if it could not.
    public private(set) var lastError: Error?

    public init(client: SlurmClient = SlurmClient(), settings: Settings) {
        self.client = client
        self.settings = settings
    }

    /// Jobs not yet reported: those still followed and those ended but not yet handed out by `next`.
    public var running: Int { jobs.count + finished.count }

    /// The job id of a running step.
    public func jobID(token: Int) -> String? { jobs[token]?.id }

    /// A followed job's last seen Slurm state (`UNKNOWN` for an adopted job Slurm has not
    /// answered for yet), its node, and since when no source has known it.
    public func state(token: Int) -> (state: String, node: String, unseenSince: Date?)? {
        jobs[token].map { ($0.state, $0.node, $0.unseenSince) }
    }

    /// The completion record path pattern of a step (`%j` is the job id).
    func recordPattern(step: String) -> String {
        "\(settings.jobsDirectory)/\(RunContext.fileName(step))-%j.json"
    }

    public func start(_ p: ProcessDescription, token: Int) throws -> String {
        let safe = RunContext.fileName(p.step)
        let scripts = settings.jobsDirectory + "/scripts"
        try FileIO.makeDirectories(scripts)
        // The log starts empty for each attempt; the job appends to it (so a requeue keeps the first part).
        guard FileManager.default.createFile(atPath: p.logPath, contents: nil) else { throw SystemError("create log", p.logPath) }
        let job = SlurmScript.Job(name: "flow.\(settings.workflowName).\(p.step)", flowExecutable: settings.flowExecutable,
                                  recordPath: recordPattern(step: p.step), outputs: p.outputs,
                                  checkpointWarning: p.checkpointDirectory == nil ? nil : settings.checkpointWarning,
                                  key: p.actionKey)
        let path = "\(scripts)/\(p.environment["FLOW_RUN"] ?? "0")-\(safe)-\(p.attempt)-\(token).sh"
        try Data(SlurmScript.render(p, job: job).utf8).write(to: URL(fileURLWithPath: path))
        let id = try client.submit(script: path)
        jobs[token] = Job(id: id, step: p.step, recordPattern: job.recordPath)
        return id
    }

    /// Follows a job submitted by an earlier flow (found in the run journal, or by its script)
    /// instead of submitting one: when it still runs the step's current definition and is pending,
    /// running, or finished with a clean completion record. A live job of another definition is
    /// cancelled.
    public func reattach(_ work: LeftWork, as process: ProcessDescription, token: Int) -> Reattachment {
        guard work.actionKey == process.actionKey else {
            guard isAliveOrFinished(jobID: work.handle, step: work.step) else { return .gone }
            try? client.cancel([work.handle])
            return .cancelled("\(work.step) changed since Slurm job \(work.handle) was submitted: cancelling that job, submitting a new one")
        }
        guard isAliveOrFinished(jobID: work.handle, step: work.step) else { return .gone }
        follow(jobID: work.handle, step: work.step, token: token)
        return .following
    }

    /// Follows a job already submitted, whatever its state (`flow status` asks about them all).
    func follow(jobID: String, step: String, token: Int) {
        jobs[token] = Job(id: jobID, step: step, recordPattern: recordPattern(step: step), state: "UNKNOWN")
        lastPoll = .distantPast
    }

    /// Whether a job of an earlier flow is still pending or running, or has left a completion record.
    func isAliveOrFinished(jobID: String, step: String) -> Bool {
        if SlurmCompletionRecord.read(SlurmCompletionRecord.path(recordPattern(step: step), job: jobID)).map({ $0.succeeded && !$0.wasStopped }) == true { return true }
        // When Slurm cannot be asked, assume the job lives: following it is safe, a second job is not.
        guard let queue = try? client.queue([jobID]) else { return true }
        guard let state = queue[jobID] else { return false }
        return SlurmExecutor.isActive(state.state)
    }

    /// Stops following a job (left running by `--detach`); a later flow reattaches to it.
    public func detach(token: Int) -> Bool {
        jobs[token] != nil && { jobs[token] = nil; return true }()
    }

    /// The completion record of a job that ended while no flow followed it.
    public func endedWhileAway(_ work: LeftWork) -> (completion: Completion, started: Date, ended: Date)? {
        guard let r = SlurmCompletionRecord.read(SlurmCompletionRecord.path(recordPattern(step: work.step), job: work.handle)) else { return nil }
        let termination: Termination = r.exitStatus.map { .exited($0) } ?? .signaled(r.signal ?? 0)
        return (Completion(token: -1, termination: termination, host: r.node, outputDigests: r.outputs),
                Date(timeIntervalSince1970: r.started), Date(timeIntervalSince1970: r.ended))
    }

    public func next(timeout: Double) -> Completion? {
        if finished.isEmpty && !jobs.isEmpty {
            let wait = lastPoll.addingTimeInterval(settings.pollInterval).timeIntervalSinceNow
            if wait > 0 {
                // Until the next poll, a completion record that appears ends its job at once.
                if watch == nil { watch = RecordWatch(directory: settings.jobsDirectory) }
                let slice = min(wait, max(0, timeout))
                if let watch {
                    if watch.wait(seconds: slice) { _ = readRecords() }
                } else {
                    usleep(UInt32(slice * 1e6))
                }
                if !finished.isEmpty || wait > timeout { return finished.isEmpty ? nil : finished.removeFirst() }
            }
            poll()
        }
        return finished.isEmpty ? nil : finished.removeFirst()
    }

    /// Ends the jobs whose completion records settle them (see `poll`); the tokens and records of
    /// the others.
    private func readRecords() -> (open: [Int], records: [Int: SlurmCompletionRecord]) {
        var open: [Int] = []
        var records: [Int: SlurmCompletionRecord] = [:]
        for (token, job) in jobs {
            if let r = SlurmCompletionRecord.read(SlurmCompletionRecord.path(job.recordPattern, job: job.id)) {
                records[token] = r
                // A clean exit needs nothing more; a failure after a signal may be Slurm's doing
                // (TIMEOUT, CANCELLED, PREEMPTED, OUT_OF_MEMORY): then Slurm's state is the better
                // report. So is an exit 0 after SIGTERM: a job that was cancelled is never committed.
                if (r.succeeded && !r.wasStopped) || (!r.succeeded && r.signalsReceived.isEmpty && r.signal == nil) {
                    end(token, record: r, state: r.succeeded ? "COMPLETED" : "FAILED")
                    continue
                }
            }
            open.append(token)
        }
        return (open, records)
    }

    /// One round: records, then one squeue for the rest, then one sacct for those squeue has forgotten.
    func poll() {
        lastPoll = Date()
        lastError = nil
        let (open, records) = readRecords()
        guard !open.isEmpty else { return }
        var queue: [String: SlurmClient.JobState] = [:]
        do { queue = try client.queue(open.compactMap { jobs[$0]?.id }) } catch { lastError = error }
        var forgotten: [Int] = []
        for token in open {
            guard let job = jobs[token] else { continue }
            guard let s = queue[job.id] else { forgotten.append(token); continue }
            if !s.node.isEmpty { jobs[token]?.node = s.node }
            observe(token, s.state)
            if !SlurmExecutor.isActive(s.state) { settle(token, state: s.state, exitCode: "", record: records[token]) }
        }
        guard !forgotten.isEmpty else { return }
        var accounting: [String: SlurmClient.JobState] = [:]
        do { accounting = try client.accounting(forgotten.compactMap { jobs[$0]?.id }) } catch { lastError = lastError ?? error }
        for token in forgotten {
            guard let job = jobs[token] else { continue }
            if let s = accounting[job.id], !SlurmExecutor.isActive(s.state) {
                settle(token, state: s.state, exitCode: s.exitCode, record: records[token])
            } else if let r = records[token], !(r.succeeded && r.wasStopped) {
                end(token, record: r, state: "FAILED")
            } else if records[token] != nil {
                finish(token, .scheduler("UNKNOWN (the command exited 0 after SIGTERM, and Slurm no longer says whether the job was cancelled; not committed)"),
                       state: "UNKNOWN")
            } else if let since = job.unseenSince {
                if Date().timeIntervalSince(since) > settings.lostAfter {
                    finish(token, .scheduler("LOST (job \(job.id) is unknown to squeue and sacct, and left no completion record)"), state: "LOST")
                }
            } else {
                jobs[token]?.unseenSince = Date()
            }
        }
    }

    private func observe(_ token: Int, _ state: String) {
        guard let job = jobs[token], job.state != state else { return }
        jobs[token]?.state = state
        jobs[token]?.unseenSince = nil
        onStateChange?(token, job.id, state)
    }

    /// A job Slurm says has ended: its record decides unless Slurm ended it (time limit, cancel, node failure).
    private func settle(_ token: Int, state: String, exitCode: String, record: SlurmCompletionRecord?) {
        guard let job = jobs[token] else { return }
        let base = String(state.split(separator: " ").first ?? "")
        // The record is written just before the job ends: look again before concluding it has none.
        let r = record ?? SlurmCompletionRecord.read(SlurmCompletionRecord.path(job.recordPattern, job: job.id))
        switch base {
        case "COMPLETED", "FAILED":
            if let r { end(token, record: r, state: base) } else {
                let code = Int32(exitCode.split(separator: ":").first ?? "") ?? 1
                finish(token, base == "COMPLETED"
                    ? .failedToStart("job \(job.id) ended without a completion record (is flow reachable from the node?)")
                    : .scheduler("FAILED (exit code \(code), no completion record; see the log)"), state: base)
            }
        default:
            // The command finished on its own before Slurm's end (a time limit reached in the epilogue): its result stands.
            if let r, r.succeeded, !r.wasStopped { end(token, record: r, state: "COMPLETED") } else { finish(token, .scheduler(base), state: base) }
        }
    }

    private func end(_ token: Int, record r: SlurmCompletionRecord, state: String) {
        if let s = r.exitStatus { finish(token, .exited(s), state: state, record: r) } else { finish(token, .signaled(r.signal ?? 0), state: state, record: r) }
    }

    private func finish(_ token: Int, _ termination: Termination, state: String, record: SlurmCompletionRecord? = nil) {
        guard let job = jobs.removeValue(forKey: token) else { return }
        finalStates[token] = state
        let r = record ?? SlurmCompletionRecord.read(SlurmCompletionRecord.path(job.recordPattern, job: job.id))
        var failure: String?
        if case .scheduler(let s) = termination {
            failure = "Slurm job \(job.id) ended \(s)"
        } else if !termination.succeeded {
            failure = "Slurm job \(job.id) ended \(state) (\(termination.description))"
        }
        finished.append(Completion(token: token, termination: termination, host: r?.node ?? "slurm", outputDigests: r?.outputs ?? [:],
                                   failure: failure, stoppedByExecutor: ["TIMEOUT", "PREEMPTED", "NODE_FAIL"].contains(state)))
    }

    static func isActive(_ state: String) -> Bool {
        ["PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING",
         "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESV_DEL_HOLD", "SPECIAL_EXIT"].contains(state)
    }

    /// SIGTERM asks Slurm to signal the running jobs (so they can checkpoint) and cancels those
    /// still pending; SIGKILL cancels them all.
    public func signalAll(_ signal: Int32) {
        let all = jobs.keys.sorted()
        send(signal, to: all)
    }

    public func signal(token: Int, _ signal: Int32) {
        send(signal, to: [token])
    }

    private func send(_ signal: Int32, to tokens: [Int]) {
        let targets = tokens.compactMap { jobs[$0] }
        if signal == SIGKILL {
            // Called again and again while flow waits for the jobs to end: cancel each job once.
            let ids = targets.map(\.id).filter { !cancelled.contains($0) }
            cancelled.formUnion(ids)
            try? client.cancel(ids)
            return
        }
        let name = signal == SIGTERM ? "TERM" : signal == SIGINT ? "INT" : signal == SIGUSR1 ? "USR1" : String(signal)
        let pending = targets.filter { $0.state == "PENDING" }.map(\.id)
        try? client.cancel(pending)
        try? client.cancel(targets.filter { $0.state != "PENDING" }.map(\.id), signal: name)
    }
}
