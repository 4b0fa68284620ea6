import Foundation
import FlowCore
import Glibc

/// Runs steps as processes on this machine, each leading a process group of its own, all
/// started by one small supervisor process (Sources/flow-supervisor, through `StepSupervisor`)
/// that this executor starts with its first step. The supervisor ends every group if flow dies,
/// so that no step process outlives a flow that is killed, however it is killed; if the
/// supervisor itself dies, the steps it ran fail, and the next step starts a new one.
///
/// Used by one thread at a time (the runner's), which also reads the supervisors' sockets (see
/// `StepSupervisor`): reports come in while that thread waits for a step, in `start` and `next`.
public final class LocalExecutor: StepExecutor {
    /// Seconds the steps of a flow that died get between SIGTERM and SIGKILL.
    let graceSeconds: Int
    /// The `flow-supervisor` executable (beside the `flow` executable).
    let supervisorPath: String
    /// Ended steps not yet handed out by `next`.
    private var finished: [Completion] = []
    /// The running steps: token → the command's process group (its pid) and its supervisor.
    private var groups: [Int: (group: pid_t, supervisor: StepSupervisor)] = [:]
    /// The running steps' logs, for the message when one cannot be written.
    private var logs: [Int: String] = [:]
    /// The supervisor that takes new steps; nil before the first step and once it is lost.
    private var supervisor: StepSupervisor?
    /// Every supervisor whose end has not been read yet: the current one, and one that went
    /// away while the ends it reported were still to be read.
    private var supervisors: [StepSupervisor] = []

    public init(graceSeconds: Int = 30, supervisor: String = LocalExecutor.defaultSupervisor) {
        self.graceSeconds = graceSeconds
        self.supervisorPath = supervisor
    }

    deinit {
        // Each ends whatever still runs (nothing, after a run) and exits; waiting until it is
        // reaped makes the CPU time of the steps count as flow's, as when flow waited for each
        // step itself.
        for s in supervisors { s.finish() }
    }

    /// `flow-supervisor` in the directory of the running executable.
    public static var defaultSupervisor: String {
        (RunContext.currentExecutable() as NSString).deletingLastPathComponent + "/flow-supervisor"
    }

    /// Steps started and not yet handed out by `next`: those running and those that ended.
    public var running: Int { groups.count + finished.count }

    /// The pid of the current supervisor, if one runs (for tests).
    var supervisorPID: pid_t? { supervisor?.pid }

    /// Starts the command of `p`; its stdout and stderr go to `p.logPath`, which the supervisor
    /// creates on the first byte (a step that prints nothing leaves no file: `StepLog` reads
    /// that as an empty log) and has written in full when the step's end is reported.
    public func start(_ p: ProcessDescription, token: Int) throws -> String {
        let log = p.logPath.hasPrefix("/") ? p.logPath : FileManager.default.currentDirectoryPath + "/" + p.logPath
        let env = p.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        // A request that cannot be sent started nothing: a supervisor that died since the last
        // step gets one successor to take it.
        var asked: StepSupervisor?
        for attempt in 1...2 {
            let supervisor = try currentSupervisor()
            logs[token] = log
            do {
                try supervisor.request(token: token, argv: p.argv, environment: env, directory: p.workingDirectory,
                                       log: log, held: p.heldDescriptor)
                asked = supervisor
                break
            } catch {
                logs[token] = nil
                if self.supervisor === supervisor { self.supervisor = nil }
                supervisor.shutdown()
                if attempt == 2 { throw error }
            }
        }
        guard let asked else { preconditionFailure("the loop above either asked a supervisor or threw") }
        // The supervisor answers requests in order, one at a time: its next start is this one's.
        var answer: Answer?
        while answer == nil {
            guard let event = asked.receive(timeout: nil) else {
                if asked.isLost { answer = .lost("the step supervisor (\(supervisorPath)) ended") }
                continue
            }
            answer = handle(event, from: asked)
        }
        switch answer {
        case .started(let pid):
            return String(pid)
        case .failed(let error):
            logs[token] = nil
            finished.append(Completion(token: token, termination: .failedToStart("\(p.argv.first ?? ""): \(String(cString: strerror(error)))")))
        case .lost(let why):
            logs[token] = nil
            finished.append(Completion(token: token, termination: .failedToStart(why)))
        case nil:
            preconditionFailure("the wait above ends only with an answer")
        }
        return "-"
    }

    public func next(timeout: Double) -> Completion? {
        if finished.isEmpty {
            let deadline = Date().addingTimeInterval(timeout)
            repeat {
                readEvents(waiting: max(deadline.timeIntervalSinceNow, 0))
            } while finished.isEmpty && deadline.timeIntervalSinceNow > 0
        }
        return finished.isEmpty ? nil : finished.removeFirst()
    }

    // A group's id stays taken while any process is in it. The reports that have come are read
    // first, so that a group the supervisor has reaped is not signalled: one reaped since could in
    // principle be given to a new process before flow reads its end, but only after the kernel
    // has gone through every other pid.
    public func signalAll(_ signal: Int32) {
        readEvents(waiting: 0)
        for pid in groups.values.map(\.group) { kill(-pid, signal) }
    }

    public func signal(token: Int, _ signal: Int32) {
        readEvents(waiting: 0)
        if let pid = groups[token]?.group { kill(-pid, signal) }
    }

    /// The supervisor that takes new steps, started if there is none.
    private func currentSupervisor() throws -> StepSupervisor {
        if let supervisor { return supervisor }
        guard access(supervisorPath, X_OK) == 0 else {
            throw SystemError("run the step supervisor (install flow-supervisor beside flow)", supervisorPath)
        }
        let started = try StepSupervisor.launch(supervisorPath, graceSeconds: graceSeconds)
        supervisor = started
        supervisors.append(started)
        return started
    }

    /// Waits up to `seconds` for any supervisor to report, then takes in everything they have
    /// reported.
    private func readEvents(waiting seconds: Double) {
        if seconds > 0 {
            let reading = supervisors.filter { !$0.hasEnded }
            if !reading.isEmpty {
                // One whose end has been read is looked at again every 50 ms until it is reaped.
                let wait = reading.count == supervisors.count ? seconds : min(seconds, 0.05)
                var watched = reading.map { pollfd(fd: $0.descriptor, events: Int16(POLLIN), revents: 0) }
                _ = poll(&watched, nfds_t(watched.count), Int32((min(wait, 3600) * 1000).rounded(.up)))
            } else if let ending = supervisors.first {
                if let event = ending.receive(timeout: seconds) { _ = handle(event, from: ending) }
            } else {
                // Nothing can end: the wait is the caller's pause.
                usleep(UInt32(min(seconds, 1) * 1e6))
            }
        }
        for s in supervisors {
            while let event = s.receive(timeout: 0) { _ = handle(event, from: s) }
        }
    }

    /// What `start` waits for after a request.
    private enum Answer {
        case started(pid_t)
        /// The errno of what kept the command from starting.
        case failed(Int32)
        /// The supervisor went away before it answered.
        case lost(String)
    }

    /// Takes in an event from `source`; a start, or the supervisor's end, is also the answer to
    /// a request waiting for one.
    private func handle(_ event: StepSupervisor.Event, from source: StepSupervisor) -> Answer? {
        switch event {
        case .started(let token, let pid, let error):
            if pid > 0 { groups[token] = (pid, source) }
            return pid > 0 ? .started(pid) : .failed(error)
        case .ended(let token, let status, let peakMemory, let logError):
            let log = logs.removeValue(forKey: token)
            guard groups.removeValue(forKey: token) != nil else { return nil }
            // A step whose output was lost has no result to keep, however it ended. But for a
            // full disk, as when the command wrote its log itself and its writes failed: its
            // outputs are on the same disk, or the cache is, and the commit says so.
            let lost = logError != 0 && logError != ENOSPC && logError != EDQUOT
            let failure = lost ? "its log \(log ?? "") could not be written: \(String(cString: strerror(logError)))" : nil
            finished.append(Completion(token: token, termination: Termination(waitStatus: status), peakMemory: peakMemory,
                                       failure: failure))
            return nil
        case .lost(let status):
            // The kernel sent SIGKILL to each command it started (their parent-death signal);
            // what those left in their groups is killed here.
            let why = "the step supervisor (\(supervisorPath), pid \(source.pid)) ended: \(Termination(waitStatus: status).description)"
            for (token, running) in groups where running.supervisor === source {
                kill(-running.group, SIGKILL)
                groups[token] = nil
                logs[token] = nil
                finished.append(Completion(token: token, termination: .signaled(SIGKILL), failure: why))
            }
            supervisors.removeAll { $0 === source }
            if supervisor === source { supervisor = nil }
            return .lost(why)
        }
    }
}

extension Termination {
    /// The termination a wait status (waitpid, wait4) describes.
    init(waitStatus status: Int32) {
        self = (status & 0x7f) == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
    }
}
