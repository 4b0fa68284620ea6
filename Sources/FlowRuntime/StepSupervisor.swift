import CSpawn
import Foundation
import Glibc

/// One `flow-supervisor` process (Sources/flow-supervisor) and the thread that reads what it
/// reports: the starts and ends of the commands of local steps, over a SOCK_SEQPACKET socket
/// (CSpawn's supervisor.h).
///
/// That thread also starts the process: a parent-death signal follows the thread that started a
/// process, not the whole of flow, so the thread lives exactly as long as the supervisor does.
final class StepSupervisor: @unchecked Sendable {
    // @unchecked Sendable: `pid` and `socket` are constants, and the socket is closed only in
    // deinit, when no thread can be sending on it or reading it; `reaped` is touched only under
    // `reaping`.

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
    /// The thread that started the supervisor and reads its events.
    private let reader: pthread_t
    private let reaping = NSCondition()
    private var reaped = false

    private init(pid: pid_t, path: String, socket: Int32) {
        self.pid = pid
        self.path = path
        self.socket = socket
        reader = pthread_self()
    }

    deinit { close(socket) }

    /// Starts the supervisor at `path` and a thread that passes each of its events to `events`
    /// (on that thread), the last being `.lost`.
    static func launch(_ path: String, graceSeconds: Int, events: @escaping @Sendable (StepSupervisor, Event) -> Void) throws -> StepSupervisor {
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
            supervisor.read(events)
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

    /// Ends the conversation: the supervisor ends what still runs (SIGTERM, then SIGKILL after
    /// the grace period) and exits, and the reading thread reaps it, reports `.lost` and ends.
    func shutdown() {
        Glibc.shutdown(socket, Int32(SHUT_RDWR))
    }

    /// Shuts down and waits until the supervisor has been reaped: its CPU time and that of every
    /// command it ran then count among flow's children (`time flow run` shows them). Called on
    /// the reading thread itself (from inside an event), it only shuts down: that thread reaps
    /// the supervisor once the event returns.
    func finish() {
        shutdown()
        if pthread_equal(pthread_self(), reader) != 0 { return }
        reaping.lock()
        while !reaped { reaping.wait() }
        reaping.unlock()
    }

    private func read(_ events: @Sendable (StepSupervisor, Event) -> Void) {
        var event = flow_event()
        while flow_supervisor_receive(socket, &event) == 1 {
            let token = Int(event.token)
            switch Int(event.kind) {
            case Int(FLOW_EVENT_STARTED.rawValue):
                events(self, .started(token: token, pid: max(event.pid, 0), errno: event.value))
            case Int(FLOW_EVENT_ENDED.rawValue):
                events(self, .ended(token: token, status: event.value, peakMemory: event.maxrss_kb * 1024, logError: event.log_error))
            default:
                continue
            }
        }
        // The supervisor closes its end only by exiting, or it sent what no supervisor sends:
        // make sure it ends, then reap it.
        shutdown()
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        reaping.lock()
        reaped = true
        reaping.broadcast()
        reaping.unlock()
        events(self, .lost(status: status))
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
