import Foundation
import FlowCore

/// The executor a run uses when some of its steps go to Slurm: each step goes to the local
/// executor or to Slurm according to `executorOptions["executor"]`, and completions come back
/// from both. The Slurm side is created on first use, so a local-only run never calls Slurm.
public final class SlurmDispatch: StepExecutor {
    public let local: StepExecutor
    let makeSlurm: () -> SlurmExecutor
    private var slurmExecutor: SlurmExecutor?
    private var slurmTokens: Set<Int> = []

    public init(local: StepExecutor, slurm: @escaping () -> SlurmExecutor) {
        self.local = local
        self.makeSlurm = slurm
    }

    /// The Slurm executor (created now if needed).
    public var slurm: SlurmExecutor {
        if let s = slurmExecutor { return s }
        let s = makeSlurm()
        slurmExecutor = s
        return s
    }

    public func isSlurm(token: Int) -> Bool { slurmTokens.contains(token) }

    public var running: Int { local.running + (slurmExecutor?.running ?? 0) }

    public func start(_ p: ProcessDescription, token: Int) throws -> String {
        guard p.executorOptions["executor"] == "slurm" else { return try local.start(p, token: token) }
        let id = try slurm.start(p, token: token)
        slurmTokens.insert(token)
        return id
    }

    public func adopt(jobID: String, step: String, token: Int) {
        slurm.adopt(jobID: jobID, step: step, token: token)
        slurmTokens.insert(token)
    }

    public func forget(token: Int) {
        slurmExecutor?.forget(token: token)
        slurmTokens.remove(token)
    }

    public func next(timeout: Double) -> (token: Int, termination: Termination)? {
        guard let s = slurmExecutor, s.running > 0 else { return local.next(timeout: timeout) }
        if let done = local.next(timeout: 0) { return done }
        if let done = s.next(timeout: local.running > 0 ? min(timeout, 0.02) : timeout) {
            slurmTokens.remove(done.token)
            return done
        }
        return local.next(timeout: 0)
    }

    public func takePeakMemory(token: Int) -> Int64? {
        slurmTokens.contains(token) ? nil : local.takePeakMemory(token: token)
    }

    public func signalAll(_ signal: Int32) {
        local.signalAll(signal)
        slurmExecutor?.signalAll(signal)
    }

    public func signal(token: Int, _ signal: Int32) {
        if slurmTokens.contains(token) { slurmExecutor?.signal(token: token, signal) } else { local.signal(token: token, signal) }
    }
}
