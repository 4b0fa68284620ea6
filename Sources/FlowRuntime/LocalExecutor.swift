import Foundation
import FlowCore
import Glibc

/// Runs steps as processes on this machine, each leading a process group of its own, all
/// started by one small supervisor process (Sources/flow-supervisor, through `StepSupervisor`)
/// that this executor starts with its first step. The supervisor ends every group if flow dies,
/// so that no step process outlives a flow that is killed, however it is killed; if the
/// supervisor itself dies, the steps it ran fail, and the next step starts a new one.
public final class LocalExecutor: StepExecutor, @unchecked Sendable {
    // @unchecked Sendable: what changes is in `state`, under its lock; the rest is constant.
    /// Seconds the steps of a flow that died get between SIGTERM and SIGKILL.
    let graceSeconds: Int
    /// The `flow-supervisor` executable (beside the `flow` executable).
    let supervisorPath: String
    private let state: State

    public init(graceSeconds: Int = 30, supervisor: String = LocalExecutor.defaultSupervisor) {
        self.graceSeconds = graceSeconds
        self.supervisorPath = supervisor
        state = State(supervisorPath: supervisor)
    }

    deinit {
        // It ends whatever still runs (nothing, after a run) and exits; waiting until it is
        // reaped makes the CPU time of the steps count as flow's, as when flow waited for each
        // step itself.
        state.withLock { $0.supervisor }?.finish()
    }

    /// `flow-supervisor` in the directory of the running executable.
    public static var defaultSupervisor: String {
        (RunContext.currentExecutable() as NSString).deletingLastPathComponent + "/flow-supervisor"
    }

    public var running: Int { state.withLock { $0.groups.count } }

    /// The pid of the current supervisor, if one runs (for tests).
    var supervisorPID: pid_t? { state.withLock { $0.supervisor?.pid } }

    /// Starts the command of `p`; its stdout and stderr go to `p.logPath`, which the supervisor
    /// creates on the first byte (a step that prints nothing leaves no file: `StepLog` reads
    /// that as an empty log) and has written in full when the step's end is reported.
    public func start(_ p: ProcessDescription, token: Int) throws -> String {
        let log = p.logPath.hasPrefix("/") ? p.logPath : FileManager.default.currentDirectoryPath + "/" + p.logPath
        let env = p.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        // A request that cannot be sent started nothing: a supervisor that died since the last
        // step gets one successor to take it.
        for attempt in 1...2 {
            let supervisor = try currentSupervisor()
            state.withLock {
                $0.awaiting = supervisor
                $0.answer = nil
                $0.logs[token] = log
            }
            do {
                try supervisor.request(token: token, argv: p.argv, environment: env, directory: p.workingDirectory,
                                       log: log, held: p.heldDescriptor)
                break
            } catch {
                state.withLock {
                    $0.awaiting = nil
                    $0.logs[token] = nil
                    if $0.supervisor === supervisor { $0.supervisor = nil }
                }
                supervisor.shutdown()
                if attempt == 2 { throw error }
            }
        }
        return state.withLock { s in
            while s.answer == nil { s.lock.wait() }
            let answer = s.answer
            s.answer = nil
            s.awaiting = nil
            switch answer {
            case .started(let pid):
                return String(pid)
            case .failed(let error):
                s.logs[token] = nil
                s.finished.append(Completion(token: token, termination: .failedToStart("\(p.argv.first ?? ""): \(String(cString: strerror(error)))")))
            case .lost(let why):
                s.logs[token] = nil
                s.finished.append(Completion(token: token, termination: .failedToStart(why)))
            case nil:
                preconditionFailure("the wait above ends only with an answer")
            }
            return "-"
        }
    }

    public func next(timeout: Double) -> Completion? {
        let deadline = Date().addingTimeInterval(timeout)
        return state.withLock { s in
            while s.finished.isEmpty {
                if !s.lock.wait(until: deadline) { break }
            }
            return s.finished.isEmpty ? nil : s.finished.removeFirst()
        }
    }

    // A group's id stays taken while any process is in it; a group whose last process the
    // supervisor reaped just now could in principle be given to a new process before flow reads
    // the end, but only after the kernel has gone through every other pid.
    public func signalAll(_ signal: Int32) {
        for pid in state.withLock({ $0.groups.values.map(\.group) }) { kill(-pid, signal) }
    }

    public func signal(token: Int, _ signal: Int32) {
        if let pid = state.withLock({ $0.groups[token]?.group }) { kill(-pid, signal) }
    }

    /// The supervisor that takes new steps, started if there is none.
    private func currentSupervisor() throws -> StepSupervisor {
        if let current = state.withLock({ $0.supervisor }) { return current }
        guard access(supervisorPath, X_OK) == 0 else {
            throw SystemError("run the step supervisor (install flow-supervisor beside flow)", supervisorPath)
        }
        // The reading thread holds the state, never the executor: the executor's last release,
        // and so the wait in deinit, cannot happen on that thread.
        let state = state
        let started = try StepSupervisor.launch(supervisorPath, graceSeconds: graceSeconds) { supervisor, event in
            state.handle(event, from: supervisor)
        }
        state.withLock { $0.supervisor = started }
        return started
    }
}

extension LocalExecutor {
    /// What the runner's thread and the supervisors' reading threads share.
    private final class State: @unchecked Sendable {
        // @unchecked Sendable: every variable is touched only under `lock`.
        let lock = NSCondition()
        let supervisorPath: String
        var finished: [Completion] = []
        /// The running steps: token → the command's process group (its pid) and its supervisor.
        var groups: [Int: (group: pid_t, supervisor: StepSupervisor)] = [:]
        /// The running steps' logs, for the message when one cannot be written.
        var logs: [Int: String] = [:]
        /// The supervisor that starts new steps; nil before the first step and once it is lost.
        var supervisor: StepSupervisor?
        /// The supervisor `start` awaits an answer from, and the answer once it has come.
        var awaiting: StepSupervisor?
        var answer: Answer?

        enum Answer {
            case started(pid_t)
            /// The errno of what kept the command from starting.
            case failed(Int32)
            /// The supervisor went away before it answered.
            case lost(String)
        }

        init(supervisorPath: String) { self.supervisorPath = supervisorPath }

        func withLock<R>(_ body: (State) throws -> R) rethrows -> R {
            lock.lock()
            defer { lock.unlock() }
            return try body(self)
        }

        /// An event from a supervisor's reading thread.
        func handle(_ event: StepSupervisor.Event, from source: StepSupervisor) {
            lock.lock()
            defer {
                lock.broadcast()
                lock.unlock()
            }
            switch event {
            case .started(let token, let pid, let error):
                // Recorded here, not in `start`: the end of a short command may come right behind.
                if pid > 0 { groups[token] = (pid, source) }
                if awaiting === source { answer = pid > 0 ? .started(pid) : .failed(error) }
            case .ended(let token, let status, let peakMemory, let logError):
                let log = logs.removeValue(forKey: token)
                guard groups.removeValue(forKey: token) != nil else { return }
                // A step whose output was lost has no result to keep, however it ended. But for a
                // full disk, as when the command wrote its log itself and its writes failed: its
                // outputs are on the same disk, or the cache is, and the commit says so.
                let lost = logError != 0 && logError != ENOSPC && logError != EDQUOT
                let failure = lost ? "its log \(log ?? "") could not be written: \(String(cString: strerror(logError)))" : nil
                finished.append(Completion(token: token, termination: Termination(waitStatus: status), peakMemory: peakMemory,
                                           failure: failure))
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
                if awaiting === source && answer == nil { answer = .lost(why) }
                if supervisor === source { supervisor = nil }
            }
        }
    }
}

extension Termination {
    /// The termination a wait status (waitpid, wait4) describes.
    init(waitStatus status: Int32) {
        self = (status & 0x7f) == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
    }
}
