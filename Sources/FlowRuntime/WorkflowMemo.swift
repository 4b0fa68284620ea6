import FlowCore
import Foundation
import Glibc
import XXHash

/// The memo of a workflow load: the elaborated `Workflow` kept in `.flow/memo/`, so that a
/// command on an unchanged workflow decodes it instead of parsing and elaborating every step
/// again (a quarter of a second of CPU at 10,000 steps).
///
/// The loader sees the world only through its `WorkspaceView`, the environment variables steps
/// pass through, the `--set` values and the op catalog. A load that makes a memo goes through a
/// `RecordingWorkspace`, which writes down every question asked and its answer (a file's text as
/// its content digest, a glob's matches, a path's kind, ...). The memo is used only when:
///
/// - its facts are the same: this very flow binary (version, path, and the executable's device,
///   inode, size, mtime and ctime: a binary built again never reads an older binary's memo, so
///   the op catalog and the codec are the same too), the workspace root, the cache directory,
///   the .dag path and the `--set` values;
/// - every environment variable that a step's `env` names has the value it had;
/// - every question, asked again of the workspace in the same order, gets the same answer
///   (`WorkspaceLog.replay`). Asked of the real `Workspace`, the questions also record what
///   the load looked at, as a load does, for the fresh snapshot.
///
/// Anything else (no file, another version, a damaged file, any difference) means a normal
/// load, which writes a new memo, unless most steps are fan-out instances (`pays`). Loads with
/// errors are never kept. Nor are loads after results
/// became known in this process (the expansion of fan-outs over files a step writes): their
/// answers change within a run, and they would replace the memo every command starts with.
///
/// File layout (`.flow/memo/<XXH128 of the .dag path>`), replaced whole (`AtomicFile`):
///
///     flow-memo v1\n                the version line (13 bytes)
///     body                          `WorkflowCodec`: strings, context, log, workflow
///     digest                        XXH3-128 of the body, 16 bytes (high, low; little-endian)
///
/// A file whose version line or digest does not match is ignored.
public struct WorkflowMemo {
    /// `.flow/memo`.
    public let directory: String
    /// What identifies the flow binary (`binaryIdentity`).
    public let binary: String

    static let header = Array("flow-memo v1\n".utf8)

    /// What came of one load, for tests and `flow`'s own accounting.
    public enum Outcome: Equatable, Sendable {
        /// Decoded from the memo.
        case hit
        /// Loaded, and the memo written; the reason the old one could not be used.
        case miss(String)
        /// Loaded without the memo: results are known (see above).
        case bypassed
    }

    /// Whether a load's memo is written only when it pays (`pays(for:)`), or always (tests of
    /// the memo itself, on small fan-outs).
    public enum Policy: Sendable {
        case whenItPays, always
    }
    public var policy: Policy

    public init(stateDirectory: String, binary: String, policy: Policy = .whenItPays) {
        directory = stateDirectory + "/memo"
        self.binary = binary
        self.policy = policy
    }

    /// The running flow binary: `version`, the executable's path and its signature.
    public static func binaryIdentity(version: String) -> String {
        let exe = RunContext.currentExecutable()
        return "flow \(version) \(exe) \(FreshSnapshot.signatureText(FileStat.of(exe)))"
    }

    /// Where the memo of the workflow whose main .dag is `file` lives.
    public func path(file: String) -> String {
        directory + "/" + XXH128.hash(file).hex
    }

    /// The workflow of `file` under `overrides`, from the memo when it holds, else loaded by
    /// `loader` (whose op catalog and environment are used; its workspace is `workspace`, which
    /// is asked the memo's questions). Throws what the loader throws.
    public func load(file: String, overrides: [String: String], loader: WorkflowLoader, workspace: Workspace) throws -> (Workflow, Outcome) {
        guard workspace.knownResults.isEmpty else {
            return (try loader.load(file: file, overrides: overrides), .bypassed)
        }
        let facts = self.facts(file: file, overrides: overrides, workspace: workspace)
        let path = self.path(file: file)
        let reason: String
        switch recall(path: path, facts: facts, environment: loader.environment, workspace: workspace) {
        case .success(let wf): return (wf, .hit)
        case .failure(let why): reason = why.description
        }
        let recorder = RecordingWorkspace(workspace)
        var recording = loader
        recording.workspace = recorder
        let wf = try recording.load(file: file, overrides: overrides)
        if policy == .always || Self.pays(for: wf) {
            keep(wf, log: recorder.log, facts: facts, environment: loader.environment, at: path)
        } else {
            unlink(path)
        }
        return (wf, .miss(reason))
    }

    /// Whether a memo of `wf` saves more than it costs: not when most of its steps are instances
    /// of fan-outs after their first. The loader makes those about as fast as the memo decodes
    /// them, while writing the memo costs more than loading them: at 1,000,000 instances of one
    /// fan-out, 1.2 s and 140 MB more for `flow status` from nothing, for 0.7 s saved later.
    /// Steps written out one by one cost about ten times their decoding.
    static func pays(for wf: Workflow) -> Bool {
        var repeated = 0
        for i in wf.steps.indices.dropFirst() where wf.steps[i].baseName == wf.steps[i - 1].baseName { repeated += 1 }
        return repeated * 2 <= wf.steps.count
    }

    /// What the load depends on besides the workspace and the environment.
    func facts(file: String, overrides: [String: String], workspace: Workspace) -> [String] {
        var facts = ["binary \(binary)", "root \(workspace.root)", "cache \(workspace.cacheDirectory ?? "")", "file \(file)"]
        for (k, v) in overrides.sorted(by: { $0.key < $1.key }) { facts.append("set \(k)=\(v)") }
        return facts
    }

    struct Stale: Error, CustomStringConvertible {
        var description: String
    }

    /// The memo's workflow when it holds. The questions it replays record what they look at in
    /// `workspace`; when it does not hold, the workspace's observations are as they were.
    func recall(path: String, facts: [String], environment: [String: String], workspace: Workspace) -> Result<Workflow, Stale> {
        guard let bytes = try? FileIO.readAll(path, sizeHint: 1 << 16) else { return .failure(Stale(description: "no memo")) }
        let h = Self.header.count
        guard bytes.count >= h + 16, bytes[..<h].elementsEqual(Self.header) else { return .failure(Stale(description: "not a memo of this version")) }
        let body = Array(bytes[h..<bytes.count - 16])
        guard Self.digestBytes(XXH128.hash(body)).elementsEqual(bytes[(bytes.count - 16)...]) else {
            return .failure(Stale(description: "damaged (digest)"))
        }
        let observations = workspace.observations, observers = workspace.observers, unsteady = workspace.unsteadyPaths
        do {
            var reader = WorkflowCodec.Reader(body)
            let context = try reader.context()
            guard context.facts == facts else { return .failure(Stale(description: Self.change(from: context.facts, to: facts))) }
            for v in context.environment where environment[v.name] != v.value { return .failure(Stale(description: "env \(v.name) changed")) }
            let log = try reader.log()
            guard log.isSteady else { return .failure(Stale(description: "unsteady")) }
            if let query = log.replay(on: workspace) {
                workspace.restoreObservations(observations, observers, unsteady)
                return .failure(Stale(description: "\(query) changed"))
            }
            return .success(try reader.workflow())
        } catch {
            workspace.restoreObservations(observations, observers, unsteady)
            return .failure(Stale(description: "damaged (\(error))"))
        }
    }

    /// Which fact changed, by its first word: "set changed", "binary changed".
    static func change(from old: [String], to new: [String]) -> String {
        let i = (0..<min(old.count, new.count)).first { old[$0] != new[$0] } ?? min(old.count, new.count)
        let fact = i < new.count ? new[i] : old[i]
        return "\(fact.prefix { $0 != " " }) changed"
    }

    /// Writes the memo of a load that asked `log`, unless the workspace changed while it looked.
    /// A memo that cannot be written is no memo: nothing fails for it.
    func keep(_ wf: Workflow, log: WorkspaceLog, facts: [String], environment: [String: String], at path: String) {
        guard log.isSteady else { return }
        let variables = FreshSnapshot.environmentNames(wf).map { WorkflowCodec.Context.Variable(name: $0, value: environment[$0]) }
        let body = WorkflowCodec.encode(context: WorkflowCodec.Context(facts: facts, environment: variables), log: log, workflow: wf)
        #if DEBUG
        // Every field of the workflow must come back: a field the codec misses would be lost
        // silently on every memo hit. (Small workflows only: the debug decoder is slow.)
        if wf.steps.count <= 10_000 {
            var reader = WorkflowCodec.Reader(body)
            _ = try! reader.context()
            _ = try! reader.log()
            precondition(try! reader.workflow().isIdentical(to: wf), "WorkflowCodec lost a field of the workflow")
        }
        #endif
        try? FileIO.makeDirectories(directory)
        try? AtomicFile.write(Self.header + body + Self.digestBytes(XXH128.hash(body)), to: path)
    }

    static func digestBytes(_ d: Digest128) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: d.high >> (8 * $0)) } + (0..<8).map { UInt8(truncatingIfNeeded: d.low >> (8 * $0)) }
    }
}

extension Workspace {
    /// Puts back what `observations`, `observers` and `unsteadyPaths` held before a memo that
    /// was given up on asked its questions, so that only the load that follows counts. (The
    /// loader asks the same questions as the memo up to the first answer that changed, so this
    /// matters only when the workspace changes between the two.)
    func restoreObservations(_ observations: [String: FileStat?]?, _ observers: [String: Observers], _ unsteady: Set<String>) {
        self.observations = observations
        self.observers = observers
        unsteadyPaths = unsteady
    }
}
