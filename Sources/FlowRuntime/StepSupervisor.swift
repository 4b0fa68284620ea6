import CSpawn
import Foundation
import Glibc

/// One `flow-supervisor` process (Sources/flow-supervisor): it starts the commands of local
/// steps and reports their starts and ends over a SOCK_SEQPACKET socket (CSpawn's
/// supervisor.h), which the runner's thread reads itself.
///
/// Why the runner reads the socket, not a thread of its own: each hand-over between threads is
/// one more wake-up between a command's end and the next command's start, and on a machine whose
/// cores the commands keep busy a woken thread often waits for a core (bench/RESULTS.md, eighth
/// pass). The supervisor's message wakes the runner directly.
///
/// A thread of its own still starts the process and then waits for its exit: a parent-death
/// signal follows the thread that started a process, not the whole of flow, so that thread lives
/// exactly as long as the supervisor does; it also reaps it.
final class StepSupervisor: @unchecked Sendable {
    // @unchecked Sendable: `pid`, `path` and `socket` are constants; the socket, `hasEnded` and
    // `isLost` are used by one thread at a time (the runner's), and the socket is closed only in
    // deinit, when no thread can be using it; `status` is touched only under `reaping` (the
    // thread that reaps the supervisor sets it).

    /// What the supervisor reports, in the order it happens.
    enum Event {
        /// The answer to a request: the command's pid (also its process group), or 0 and the
        /// errno of what kept it from starting (exec, chdir).
        case started(token: Int, pid: pid_t, errno: Int32)
        /// A command ended: its wait status, the peak resident memory of it and of the
        /// descendants it waited for, in bytes, and 0 or the errno of the first failure to
        /// create or write its log. Everything it wrote is in its log by now.
        case ended(token: Int, status: Int32, peakMemory: Int64, logError: Int32)
        /// The supervisor has gone (the end of its socket), with its wait status. Nothing more
        /// comes from it; the commands it started have been sent SIGKILL by the kernel.
        case lost(status: Int32)
    }

    let pid: pid_t
    /// The `flow-supervisor` executable.
    let path: String
    private let socket: Int32
    private let reaping = NSCondition()
    /// The supervisor's wait status, once reaped.
    private var status: Int32?
    /// Set once the end of the socket has been read: nothing more comes but `.lost`.
    private(set) var hasEnded = false
    /// Set once `.lost` has been returned.
    private(set) var isLost = false

    private init(pid: pid_t, path: String, socket: Int32) {
        self.pid = pid
        self.path = path
        self.socket = socket
    }

    deinit { close(socket) }

    /// Starts the supervisor at `path`, from a thread that then waits for its exit.
    static func launch(_ path: String, graceSeconds: Int) throws -> StepSupervisor {
        let launched = Launched()
        let thread = Thread {
            var socket: Int32 = -1
            var error: Int32 = 0
            let pid = flow_supervisor_start(path, Int32(graceSeconds), &socket, &error)
            guard pid > 0 else {
                launched.set(.failure(SystemError("start the step supervisor", path, errno: error)))
                return
            }
            let supervisor = StepSupervisor(pid: pid, path: path, socket: socket)
            launched.set(.success(supervisor))
            supervisor.waitForExit()
        }
        thread.stackSize = 256 << 10
        thread.start()
        return try launched.wait().get()
    }

    /// Asks for a command to be started (the answer comes as `.started`), its output going to
    /// the file at the absolute path `log`, created on its first byte. Throws when the request
    /// could not be sent: the supervisor has gone, and started nothing for it.
    func request(token: Int, argv: [String], environment: [String], directory: String, log: String, held: Int32) throws {
        let error = withCStrings(argv) { argv in
            withCStrings(environment) { envp in
                flow_supervisor_request(socket, Int64(token), argv, envp, directory, log, held)
            }
        }
        if error != 0 { throw SystemError("send a request to the step supervisor", path, errno: error) }
    }

    /// The next event, waiting for it at most `timeout` seconds (nil: as long as it takes; 0:
    /// only one that has arrived); nil when none came in time, and always after `.lost`. Once
    /// the end of the socket has been read, `.lost` comes when the supervisor has been reaped
    /// (it may still be ending its commands: flow shut it down), within the same timeout.
    func receive(timeout: Double?) -> Event? {
        guard !isLost else { return nil }
        if !hasEnded {
            let milliseconds = timeout.map { Int32(min(max($0, 0) * 1000, Double(Int32.max)).rounded(.up)) } ?? -1
            var event = flow_event()
            read: while true {
                switch flow_supervisor_receive(socket, &event, milliseconds) {
                case 1:
                    let token = Int(event.token)
                    switch Int(event.kind) {
                    case Int(FLOW_EVENT_STARTED.rawValue):
                        return .started(token: token, pid: max(event.pid, 0), errno: event.value)
                    case Int(FLOW_EVENT_ENDED.rawValue):
                        return .ended(token: token, status: event.value, peakMemory: event.maxrss_kb * 1024, logError: event.log_error)
                    default:
                        continue
                    }
                case 0:
                    // The supervisor closes its end only by exiting, or it sent what no supervisor
                    // sends (or flow shut the socket down): make sure it ends.
                    hasEnded = true
                    shutdown()
                    break read
                default:
                    return nil
                }
            }
        }
        guard let status = reapedStatus(waiting: timeout) else { return nil }
        isLost = true
        return .lost(status: status)
    }

    /// The socket, for waiting on several supervisors at once.
    var descriptor: Int32 { socket }

    /// Ends the conversation: the supervisor ends what still runs (SIGTERM, then SIGKILL after
    /// the grace period) and exits, and the thread that started it reaps it.
    func shutdown() {
        Glibc.shutdown(socket, Int32(SHUT_RDWR))
    }

    /// Shuts down and waits until the supervisor has been reaped: its CPU time and that of every
    /// command it ran then count among flow's children (`time flow run` shows them).
    func finish() {
        shutdown()
        _ = reapedStatus(waiting: nil)
    }

    /// The supervisor's wait status once it has been reaped, waiting at most `seconds` (nil: as
    /// long as it takes).
    private func reapedStatus(waiting seconds: Double?) -> Int32? {
        let deadline = seconds.map { Date().addingTimeInterval($0) }
        reaping.lock()
        defer { reaping.unlock() }
        while status == nil {
            if let deadline {
                if !reaping.wait(until: deadline) { break }
            } else {
                reaping.wait()
            }
        }
        return status
    }

    private func waitForExit() {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        reaping.lock()
        self.status = status
        reaping.broadcast()
        reaping.unlock()
    }
}

/// The outcome of starting the supervisor, handed from its thread to the caller of `launch`.
private final class Launched: @unchecked Sendable {
    // @unchecked Sendable: `result` is touched only under `condition`.
    private let condition = NSCondition()
    private var result: Result<StepSupervisor, SystemError>?

    func set(_ r: Result<StepSupervisor, SystemError>) {
        condition.lock()
        result = r
        condition.signal()
        condition.unlock()
    }

    func wait() -> Result<StepSupervisor, SystemError> {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let result { return result }
            condition.wait()
        }
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
