import Foundation
import FlowCore
import Glibc

/// Runs steps as processes on this machine, each leading a process group of its own, all
/// started by one small supervisor process (Sources/flow-supervisor, through `StepSupervisor`)
/// that this executor starts with its first step. The supervisor ends every group if flow dies,
/// so that no step process outlives a flow that is killed, however it is killed; if the
/// supervisor itself dies, the steps it ran fail, and the next step starts a new one.
public final class LocalExecutor: StepExecutor, @unchecked Sendable {
    // @unchecked Sendable: the supervisor's reading thread and the runner's thread touch the
    // variables only under `lock`; the other fields are constants.
    /// Seconds the steps of a flow that died get between SIGTERM and SIGKILL.
    let graceSeconds: Int
    /// The `flow-supervisor` executable (beside the `flow` executable).
    let supervisorPath: String
    private let lock = NSCondition()
    private var finished: [Completion] = []
    /// The running steps: token → the command's process group (its pid) and its supervisor.
    private var groups: [Int: (group: pid_t, supervisor: StepSupervisor)] = [:]
    /// The supervisor that starts new steps; nil before the first step and once it is lost.
    private var supervisor: StepSupervisor?
    /// The supervisor `start` awaits an answer from, and the answer once it has come.
    private var awaiting: StepSupervisor?
    private var answer: Answer?

    private enum Answer {
        case started(pid_t)
        /// The errno of what kept the command from starting.
        case failed(Int32)
        /// The supervisor went away before it answered.
        case lost(String)
    }

    public init(graceSeconds: Int = 30, supervisor: String = LocalExecutor.defaultSupervisor) {
        self.graceSeconds = graceSeconds
        self.supervisorPath = supervisor
    }

    deinit {
        // It ends whatever still runs (nothing, after a run) and exits.
        supervisor?.shutdown()
    }

    /// `flow-supervisor` in the directory of the running executable.
    public static var defaultSupervisor: String {
        (RunContext.currentExecutable() as NSString).deletingLastPathComponent + "/flow-supervisor"
    }

    public var running: Int {
        lock.lock()
        defer { lock.unlock() }
        return groups.count
    }

    /// The pid of the current supervisor, if one runs (for tests).
    var supervisorPID: pid_t? {
        lock.lock()
        defer { lock.unlock() }
        return supervisor?.pid
    }

    public func start(_ p: ProcessDescription, token: Int) throws -> String {
        let out = open(p.logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard out >= 0 else { throw SystemError("create log", p.logPath) }
        defer { close(out) }
        let env = p.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        // A request that cannot be sent started nothing: a supervisor that died since the last
        // step gets one successor to take it.
        for attempt in 1...2 {
            let supervisor = try currentSupervisor()
            lock.lock()
            awaiting = supervisor
            answer = nil
            lock.unlock()
            do {
                try supervisor.request(token: token, argv: p.argv, environment: env, directory: p.workingDirectory,
                                       log: out, held: p.heldDescriptor)
                break
            } catch {
                lock.lock()
                awaiting = nil
                if self.supervisor === supervisor { self.supervisor = nil }
                lock.unlock()
                supervisor.shutdown()
                if attempt == 2 { throw error }
            }
        }
        lock.lock()
        defer { lock.unlock() }
        while answer == nil { lock.wait() }
        let result = answer
        answer = nil
        awaiting = nil
        switch result {
        case .started(let pid):
            return String(pid)
        case .failed(let error):
            finished.append(Completion(token: token, termination: .failedToStart("\(p.argv.first ?? ""): \(String(cString: strerror(error)))")))
        case .lost(let why):
            finished.append(Completion(token: token, termination: .failedToStart(why)))
        case nil:
            preconditionFailure("the wait above ends only with an answer")
        }
        return "-"
    }

    public func next(timeout: Double) -> Completion? {
        lock.lock()
        defer { lock.unlock() }
        let deadline = Date().addingTimeInterval(timeout)
        while finished.isEmpty {
            if !lock.wait(until: deadline) { break }
        }
        return finished.isEmpty ? nil : finished.removeFirst()
    }

    // A group's id stays taken while any process is in it; a group whose last process the
    // supervisor reaped just now could in principle be given to a new process before flow reads
    // the end, but only after the kernel has gone through every other pid.
    public func signalAll(_ signal: Int32) {
        lock.lock()
        let pids = groups.values.map(\.group)
        lock.unlock()
        for pid in pids { kill(-pid, signal) }
    }

    public func signal(token: Int, _ signal: Int32) {
        lock.lock()
        let pid = groups[token]?.group
        lock.unlock()
        if let pid { kill(-pid, signal) }
    }

    /// The supervisor that takes new steps, started if there is none.
    private func currentSupervisor() throws -> StepSupervisor {
        lock.lock()
        let current = supervisor
        lock.unlock()
        if let current { return current }
        guard access(supervisorPath, X_OK) == 0 else {
            throw SystemError("run the step supervisor (install flow-supervisor beside flow)", supervisorPath)
        }
        let started = try StepSupervisor.launch(supervisorPath, graceSeconds: graceSeconds) { [weak self] supervisor, event in
            self?.handle(event, from: supervisor)
        }
        lock.lock()
        supervisor = started
        lock.unlock()
        return started
    }

    /// An event from a supervisor's reading thread.
    private func handle(_ event: StepSupervisor.Event, from source: StepSupervisor) {
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
        case .ended(let token, let status, let peakMemory):
            guard groups.removeValue(forKey: token) != nil else { return }
            finished.append(Completion(token: token, termination: Termination(waitStatus: status), peakMemory: peakMemory))
        case .lost(let status):
            // The kernel sent SIGKILL to each command it started (their parent-death signal); what
            // those left in their groups is killed here.
            let why = "the step supervisor (\(supervisorPath), pid \(source.pid)) ended: \(Termination(waitStatus: status).description)"
            for (token, running) in groups where running.supervisor === source {
                kill(-running.group, SIGKILL)
                groups[token] = nil
                finished.append(Completion(token: token, termination: .signaled(SIGKILL), failure: why))
            }
            if awaiting === source && answer == nil { answer = .lost(why) }
            if supervisor === source { supervisor = nil }
        }
    }
}

extension Termination {
    /// The termination a wait status (waitpid, wait4) describes.
    init(waitStatus status: Int32) {
        self = (status & 0x7f) == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
    }
}
