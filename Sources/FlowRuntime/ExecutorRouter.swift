import Foundation
import FlowCore

/// The executor a run uses: each step goes to the executor of its kind
/// (`ProcessDescription.executor`), and completions come back from all of them. An executor is
/// made on first use, so a run of local steps never calls Slurm.
public final class ExecutorRouter: StepExecutor {
    private let factories: [ExecutorKind: () -> StepExecutor]
    private var made: [ExecutorKind: StepExecutor] = [:]
    private var kinds: [Int: ExecutorKind] = [:]

    public init(_ factories: [ExecutorKind: () -> StepExecutor]) {
        self.factories = factories
    }

    /// The executor of `kind`, made now if needed; nil when this run has none of that kind.
    public func executor(_ kind: ExecutorKind) -> StepExecutor? {
        if let e = made[kind] { return e }
        guard let make = factories[kind] else { return nil }
        let e = make()
        made[kind] = e
        return e
    }

    func route(_ kind: ExecutorKind) throws -> StepExecutor {
        guard let e = executor(kind) else { throw ExecutorUnavailableError(kind: kind) }
        return e
    }

    public var running: Int { made.values.reduce(0) { $0 + $1.running } }

    public func start(_ p: ProcessDescription, token: Int) throws -> String {
        let handle = try route(p.executor).start(p, token: token)
        kinds[token] = p.executor
        return handle
    }

    /// Waits on the one executor with work when there is one; with several, asks each in turn and
    /// waits in short slices, so that no kind's completions wait behind another's polling.
    public func next(timeout: Double) -> Completion? {
        let busy = ExecutorKind.allCases.compactMap { made[$0] }.filter { $0.running > 0 }
        var done: Completion?
        if busy.count <= 1 {
            done = (busy.first ?? made[.local])?.next(timeout: timeout)
        } else {
            // Each is asked once: a lazy `compactMap(...).first` would ask the first with an end
            // twice and drop the end it took the first time.
            for e in busy where done == nil { done = e.next(timeout: 0) }
            if done == nil { done = busy.last?.next(timeout: min(timeout, 0.02)) }
        }
        if let done { kinds[done.token] = nil }
        return done
    }

    public func signalAll(_ signal: Int32) {
        for e in made.values { e.signalAll(signal) }
    }

    public func signal(token: Int, _ signal: Int32) {
        guard let kind = kinds[token] else { return }
        made[kind]?.signal(token: token, signal)
    }

    public func reattach(_ work: LeftWork, as process: ProcessDescription, token: Int) -> Reattachment {
        guard let e = executor(process.executor) else { return .gone }
        let r = e.reattach(work, as: process, token: token)
        if r == .following { kinds[token] = process.executor }
        return r
    }

    public func detach(token: Int) -> Bool {
        guard let kind = kinds[token], made[kind]?.detach(token: token) == true else { return false }
        kinds[token] = nil
        return true
    }

    public func unrecordedWork(run: Int64, workspace: String, steps: Set<String>, journaled: [String: String]) -> [String: LeftWork] {
        var result: [String: LeftWork] = [:]
        for kind in ExecutorKind.allCases where !kind.usesMachineResources {
            guard let e = executor(kind) else { continue }
            result.merge(e.unrecordedWork(run: run, workspace: workspace, steps: steps, journaled: journaled)) { a, _ in a }
        }
        return result
    }

    public func endedWhileAway(_ work: LeftWork) -> (completion: Completion, started: Date, ended: Date)? {
        for kind in ExecutorKind.allCases where !kind.usesMachineResources {
            if let ended = executor(kind)?.endedWhileAway(work) { return ended }
        }
        return nil
    }
}

/// A step asks for an executor this run was not given.
public struct ExecutorUnavailableError: Error, CustomStringConvertible {
    public var kind: ExecutorKind
    public var description: String { "no \(kind.rawValue) executor in this run" }
}
