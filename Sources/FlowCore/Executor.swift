/// A step handed to an executor: everything needed to run it, and nothing of the workflow.
/// The local executor forks it; a cluster executor writes it into a job script.
public struct ProcessDescription: Sendable {
    /// The step's instance name (for job names and messages).
    public var step: String
    public var argv: [String]
    /// The complete environment of the process.
    public var environment: [String: String]
    public var workingDirectory: String
    public var resources: Resources
    /// GPU indices granted locally (also in CUDA_VISIBLE_DEVICES).
    public var gpus: [Int]
    /// Where the step's stdout and stderr go.
    public var logPath: String
    /// Seconds; 0 means none.
    public var timeout: Int
    /// 1 for the first try of the step, 2 for its first retry, ...
    public var attempt: Int
    /// Cluster options from the .dag and command line (`partition`, `account`, ...).
    public var executorOptions: [String: String]
    /// A descriptor the step's processes must hold open until they have all ended (the lock of
    /// its checkpoint directory), or -1.
    public var heldDescriptor: Int32 = -1

    public init(step: String, argv: [String], environment: [String: String], workingDirectory: String,
                resources: Resources, gpus: [Int], logPath: String, timeout: Int, attempt: Int,
                executorOptions: [String: String] = [:]) {
        self.step = step
        self.argv = argv
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.resources = resources
        self.gpus = gpus
        self.logPath = logPath
        self.timeout = timeout
        self.attempt = attempt
        self.executorOptions = executorOptions
    }
}

/// How a step's process ended.
public enum Termination: Equatable, Sendable {
    case exited(Int32)
    case signaled(Int32)
    /// It could not be started (command not found, fork failed, a job not accepted).
    case failedToStart(String)
    /// A cluster job ended in a scheduler state: NODE_FAIL, PREEMPTED, TIMEOUT, OUT_OF_MEMORY, CANCELLED.
    case scheduler(String)

    public var succeeded: Bool { self == .exited(0) }

    public var description: String {
        switch self {
        case .exited(let s): return "exit status \(s)"
        case .signaled(let s): return "killed by signal \(s)"
        case .failedToStart(let why): return "could not start: \(why)"
        case .scheduler(let state): return "job ended \(state)"
        }
    }
}

/// Runs steps and reports their ends asynchronously. Called from one thread (the scheduler's).
public protocol StepExecutor: AnyObject {
    /// Starts a step; `token` comes back with its completion. Returns a handle to show (pid, job id).
    func start(_ process: ProcessDescription, token: Int) throws -> String
    /// Waits up to `timeout` seconds for the next step to end.
    func next(timeout: Double) -> (token: Int, termination: Termination)?
    /// Sends `signal` to every running step (to its whole process group).
    func signalAll(_ signal: Int32)
    /// Sends `signal` to one running step.
    func signal(token: Int, _ signal: Int32)
    /// The number of steps started and not yet reported.
    var running: Int { get }
    /// The peak resident memory, in bytes, of a step that `next` has reported, if known.
    /// Asking forgets it.
    func takePeakMemory(token: Int) -> Int64?
}

extension StepExecutor {
    public func takePeakMemory(token: Int) -> Int64? { nil }
}
