import ArgumentParser
import Foundation

/// A built-in step: a `flow op NAME` subcommand, usable from a .dag (`op NAME args...`) and by hand.
///
/// The engine runs an op as the subprocess `flow op NAME args...`, so an op is an ordinary
/// command: it reads its inputs, writes its outputs, and exits non-zero on failure.
/// Its `version` enters the action key of every step that uses it: bump it whenever the op
/// would write different bytes for the same arguments and inputs, so that cached results
/// of the old version are not mistaken for the new one's.
public protocol FlowOp: ParsableCommand {
    static var version: Int { get }
}

/// An op that writes files its options only imply (keys beside the embeddings): it names every
/// file it writes, so the engine can require each to be a declared output of the step (else a
/// restore from the cache would leave it out).
public protocol WritesFiles {
    var writtenFiles: [String] { get }
}

/// An op's failure, printed as `flow op NAME: error: MESSAGE` with a non-zero exit.
/// The message names the file (and sample, entry or offset) at fault and what to do.
public struct OpError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What the engine hands a step through its environment.
public enum StepEnvironment {
    /// Threads an op may use: `--threads` when given, else the step's `cpus` (FLOW_CPUS), else 1.
    /// Never taken from OMP_NUM_THREADS or OPENBLAS_NUM_THREADS by surprise.
    public static func threads(_ explicit: Int?) -> Int {
        if let explicit, explicit > 0 { return explicit }
        if let s = ProcessInfo.processInfo.environment["FLOW_CPUS"], let n = Int(s), n > 0 { return n }
        return 1
    }

    /// The step's checkpoint directory (FLOW_CHECKPOINT_DIR), when it declared `checkpoint`.
    public static var checkpointDirectory: String? {
        ProcessInfo.processInfo.environment["FLOW_CHECKPOINT_DIR"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The attempt number of this try of the step (FLOW_ATTEMPT), 1 for the first.
    public static var attempt: Int {
        ProcessInfo.processInfo.environment["FLOW_ATTEMPT"].flatMap(Int.init) ?? 1
    }
}
