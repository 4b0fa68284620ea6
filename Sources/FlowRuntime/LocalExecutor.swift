import CSpawn
import Foundation
import FlowCore
import Glibc

/// Runs steps as child processes of flow, each in its own process group under a small
/// supervisor process (Sources/flow-supervisor) that ends the whole group if flow dies, so that
/// no step process outlives a flow that is killed, however it is killed.
public final class LocalExecutor: StepExecutor, @unchecked Sendable {
    // @unchecked Sendable: each step's waiting thread touches only `finished` and `groups`, under
    // `lock`; the other fields are constants.
    /// Seconds the steps of a flow that died get between SIGTERM and SIGKILL.
    let graceSeconds: Int
    /// The `flow-supervisor` executable (beside the `flow` executable).
    let supervisor: String
    private let lock = NSCondition()
    private var finished: [Completion] = []
    private var groups: [Int: pid_t] = [:]

    public init(graceSeconds: Int = 30, supervisor: String = LocalExecutor.defaultSupervisor) {
        self.graceSeconds = graceSeconds
        self.supervisor = supervisor
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

    public func start(_ p: ProcessDescription, token: Int) throws -> String {
        guard access(supervisor, X_OK) == 0 else {
            throw SystemError("run the step supervisor (install flow-supervisor beside flow)", supervisor)
        }
        let out = open(p.logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard out >= 0 else { throw SystemError("create log", p.logPath) }
        defer { close(out) }
        let env = p.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        var error: Int32 = 0
        let pid = withCStrings(p.argv) { argv in
            withCStrings(env) { envp in
                flow_spawn(supervisor, argv, envp, p.workingDirectory, out, p.heldDescriptor, Int32(graceSeconds), &error)
            }
        }
        guard pid > 0 else {
            let why = "\(p.argv.first ?? ""): \(String(cString: strerror(error)))"
            lock.lock()
            finished.append(Completion(token: token, termination: .failedToStart(why)))
            lock.signal()
            lock.unlock()
            return "-"
        }
        lock.lock()
        groups[token] = pid
        lock.unlock()
        let thread = Thread { [weak self] in
            var status: Int32 = 0
            // wait4's usage of the supervisor includes the descendants it waited for (the step).
            var usage = rusage()
            while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
            let termination: Termination = (status & 0x7f) == 0
                ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
            guard let self else { return }
            self.lock.lock()
            self.groups[token] = nil
            self.finished.append(Completion(token: token, termination: termination, peakMemory: Int64(usage.ru_maxrss) * 1024))
            self.lock.signal()
            self.lock.unlock()
        }
        thread.stackSize = 256 << 10
        thread.start()
        return String(pid)
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

    public func signalAll(_ signal: Int32) {
        lock.lock()
        let pids = Array(groups.values)
        lock.unlock()
        for pid in pids { kill(-pid, signal) }
    }

    public func signal(token: Int, _ signal: Int32) {
        lock.lock()
        let pid = groups[token]
        lock.unlock()
        if let pid { kill(-pid, signal) }
    }
}

/// Lends a NULL-terminated C array of C strings for the duration of `body`.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers = copies.map { UnsafePointer($0) } + [nil]
    return pointers.withUnsafeBufferPointer { buffer in
        guard let start = buffer.baseAddress else { preconditionFailure("a C string list always holds its terminating NULL") }
        return body(start)
    }
}
