import Foundation

/// Where a step runs.
public enum ExecutorKind: String, Sendable, CaseIterable {
    /// A process on this machine, in the resource pool of `flow run`.
    case local
    /// A Slurm batch job; its resources come from the cluster.
    case slurm
}

/// A step's cluster settings: `partition`, `account`, `qos`, `constraint` and free `sbatch`
/// options, from the .dag and the command line.
public struct ClusterSettings: Sendable, Equatable {
    public var partition: String?
    public var account: String?
    public var qos: String?
    public var constraint: String?
    /// Free `sbatch` options, each as written (`--exclusive --comment=x`), the command line's first.
    public var sbatch: [String] = []

    public init(partition: String? = nil, account: String? = nil, qos: String? = nil, constraint: String? = nil, sbatch: [String] = []) {
        self.partition = partition
        self.account = account
        self.qos = qos
        self.constraint = constraint
        self.sbatch = sbatch
    }

    /// The named settings as `#SBATCH --NAME=VALUE` names and values, in a fixed order.
    public var named: [(name: String, value: String)] {
        [("partition", partition), ("account", account), ("qos", qos), ("constraint", constraint)].compactMap { n, v in
            v.flatMap { $0.isEmpty ? nil : (n, $0) }
        }
    }

    /// These settings over `defaults` (the command line's): each named one wins where set, and
    /// the free options of both are kept.
    public func over(_ defaults: ClusterSettings) -> ClusterSettings {
        ClusterSettings(partition: partition ?? defaults.partition, account: account ?? defaults.account, qos: qos ?? defaults.qos,
                        constraint: constraint ?? defaults.constraint, sbatch: (defaults.sbatch + sbatch).filter { !$0.isEmpty })
    }

    /// Sets the setting of a .dag keyword or command-line option; false for an unknown name.
    public mutating func set(_ name: String, _ value: String) -> Bool {
        switch name {
        case "partition": partition = value
        case "account": account = value
        case "qos": qos = value
        case "constraint": constraint = value
        case "sbatch": sbatch.append(value)
        default: return false
        }
        return true
    }
}

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
    public var executor: ExecutorKind
    /// Cluster settings of the step over those of the command line (for `slurm`).
    public var cluster: ClusterSettings
    /// The step's declared outputs, relative to the working directory (hashed on a cluster node).
    public var outputs: [String]
    /// The step's action key (hex), which a cluster job carries so that a later flow knows it.
    public var actionKey: String?
    /// The step's checkpoint directory, when it is checkpointed (also in FLOW_CHECKPOINT_DIR).
    public var checkpointDirectory: String?
    /// A descriptor the step's processes must hold open until they have all ended (the lock of
    /// its checkpoint directory), or -1.
    public var heldDescriptor: Int32 = -1

    public init(step: String, argv: [String], environment: [String: String], workingDirectory: String,
                resources: Resources, gpus: [Int], logPath: String, timeout: Int, attempt: Int,
                executor: ExecutorKind = .local, cluster: ClusterSettings = ClusterSettings(), outputs: [String] = [],
                actionKey: String? = nil, checkpointDirectory: String? = nil) {
        self.step = step
        self.argv = argv
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.resources = resources
        self.gpus = gpus
        self.logPath = logPath
        self.timeout = timeout
        self.attempt = attempt
        self.executor = executor
        self.cluster = cluster
        self.outputs = outputs
        self.actionKey = actionKey
        self.checkpointDirectory = checkpointDirectory
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

extension ExecutorKind {
    /// Its steps take cpus, memory and GPUs from this machine's pool (a cluster's come from the cluster).
    public var usesMachineResources: Bool { self == .local }
    /// flow enforces a step's `timeout` itself (a cluster enforces its own time limit).
    public var flowEnforcesTimeouts: Bool { self == .local }
}

/// How a step's work ended, as its executor reports it.
public struct Completion: Sendable {
    public var token: Int
    public var termination: Termination
    /// The peak resident memory of the step's processes, in bytes, when known.
    public var peakMemory: Int64?
    /// Where the work ran, when not on this machine (a cluster node).
    public var host: String?
    /// Each output's digest (hex) as hashed where the work ran: the outputs this machine reads
    /// must match, or the shared file system has not caught up.
    public var outputDigests: [String: String] = [:]
    /// What the executor has to say of a failure beyond the termination ("Slurm job 12 ended
    /// TIMEOUT"); nil when the termination says it all.
    public var failure: String?
    /// The executor stopped the work on its own (a time limit, a preemption, a node failure):
    /// a checkpointed step may resume in new work.
    public var stoppedByExecutor = false

    public init(token: Int, termination: Termination, peakMemory: Int64? = nil, host: String? = nil,
                outputDigests: [String: String] = [:], failure: String? = nil, stoppedByExecutor: Bool = false) {
        self.token = token
        self.termination = termination
        self.peakMemory = peakMemory
        self.host = host
        self.outputDigests = outputDigests
        self.failure = failure
        self.stoppedByExecutor = stoppedByExecutor
    }
}

/// Work an earlier flow started that may have outlived it: named in the run journal, or found
/// by its executor (`StepExecutor.unrecordedWork`).
public struct LeftWork: Sendable {
    public var step: String
    /// The executor's handle: a Slurm job id.
    public var handle: String
    /// The action key (hex) of the definition it runs.
    public var actionKey: String
    public var attempt: Int
    public var logPath: String
    public var startedAt: Date?

    public init(step: String, handle: String, actionKey: String, attempt: Int, logPath: String, startedAt: Date?) {
        self.step = step
        self.handle = handle
        self.actionKey = actionKey
        self.attempt = attempt
        self.logPath = logPath
        self.startedAt = startedAt
    }
}

/// What became of left work the runner asked an executor to follow.
public enum Reattachment: Equatable, Sendable {
    /// Followed: its end comes from `next` like that of work started now.
    case following
    /// Gone (ended without a usable result, or unknown): start the step anew.
    case gone
    /// It ran another definition of the step and was stopped; start anew. The text says so.
    case cancelled(String)
}

/// Runs steps and reports their ends. Every call comes from the runner's thread: signals reach
/// executors through the runner's loop, never from a signal handler or another queue.
public protocol StepExecutor: AnyObject {
    /// Starts a step; `token` comes back with its completion. Returns a handle to show (pid, job id).
    func start(_ process: ProcessDescription, token: Int) throws -> String
    /// Waits up to `timeout` seconds for the next step to end.
    func next(timeout: Double) -> Completion?
    /// Sends `signal` to every running step (to its whole process group).
    func signalAll(_ signal: Int32)
    /// Sends `signal` to one running step.
    func signal(token: Int, _ signal: Int32)
    /// The number of steps started and not yet reported.
    var running: Int { get }
    /// Follows `work`, which an earlier flow left, as the step `process` describes now (its
    /// `actionKey` says which definition it must run).
    func reattach(_ work: LeftWork, as process: ProcessDescription, token: Int) -> Reattachment
    /// Stops following a step and leaves it running for a later flow to reattach; false when its
    /// work cannot outlive flow (a local process).
    func detach(token: Int) -> Bool
    /// Work that run `run` of this workspace started but could not journal before it died
    /// (keyed by step; `journaled` is the handle the journal names for each step, if any).
    func unrecordedWork(run: Int64, workspace: String, steps: Set<String>, journaled: [String: String]) -> [String: LeftWork]
    /// The completion of left work that has ended while no flow watched it, if it left a
    /// record of its end (for `flow status` to commit); nil while it runs or when it left none.
    func endedWhileAway(_ work: LeftWork) -> (completion: Completion, started: Date, ended: Date)?
}

/// Work that dies with flow: nothing to reattach to or detach.
extension StepExecutor {
    public func reattach(_ work: LeftWork, as process: ProcessDescription, token: Int) -> Reattachment { .gone }
    public func detach(token: Int) -> Bool { false }
    public func unrecordedWork(run: Int64, workspace: String, steps: Set<String>, journaled: [String: String]) -> [String: LeftWork] { [:] }
    public func endedWhileAway(_ work: LeftWork) -> (completion: Completion, started: Date, ended: Date)? { nil }
}
