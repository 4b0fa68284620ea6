import Foundation
import FlowCore
import Glibc
import XXHash

/// Where a workspace keeps things: the root, its `.flow/` state, and the cache it uses.
public final class RunContext {
    public let workspace: Workspace
    public let state: StateStore
    public let store: ObjectStore
    public let actions: ActionCache
    /// Held shared by commits and restores, exclusively by gc (see `CacheLock`).
    public let cacheLock: CacheLock
    /// `.flow/` under the workspace root: state.db, logs, progress files, the lock.
    public let stateDirectory: String
    public let cacheDirectory: String
    /// The `flow` binary that runs `op` steps: this very executable.
    public let flowExecutable: String
    /// The remote cache, when the command uses one: evaluators ask it for what the local cache lacks.
    public var remote: RemoteResults?
    /// Directories this process made, so a run of many steps does not ask again for each.
    var createdDirectories: Set<String> = []

    public init(root: String, cacheDirectory: String?, readOnly: Bool = false) throws {
        stateDirectory = root + "/.flow"
        let cache = RunContext.cachePath(root: root, cacheDirectory: cacheDirectory)
        self.cacheDirectory = cache
        state = try StateStore(directory: stateDirectory, readOnly: readOnly)
        store = try ObjectStore(root: cache)
        actions = ActionCache(root: cache)
        cacheLock = CacheLock(cacheRoot: cache)
        workspace = Workspace(root: root, state: state, cacheDirectory: cache)
        flowExecutable = RunContext.currentExecutable()
    }

    /// An evaluator of `workflow` in this workspace, against its cache and step records.
    public func evaluator(for workflow: Workflow) throws -> Evaluator {
        let evaluator = Evaluator(workflow: workflow, workspace: workspace, store: store, actions: actions, records: try state.allRecords())
        evaluator.remote = remote
        return evaluator
    }

    /// The cache directory: `cacheDirectory` (absolute, or relative to the root), else `cache/`.
    public static func cachePath(root: String, cacheDirectory: String?) -> String {
        cacheDirectory.map { $0.hasPrefix("/") ? $0 : root + "/" + $0 } ?? root + "/cache"
    }

    public static func currentExecutable() -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if n > 0 { return String(decoding: buffer.prefix(n), as: UTF8.self) }
        return CommandLine.arguments[0]
    }

    /// `.flow/logs/<run>/<step>.log`; step names are made file-name safe.
    func logPath(run: Int64, step: String) throws -> String {
        let dir = "\(stateDirectory)/logs/\(run)"
        if !createdDirectories.contains(dir) {
            try FileIO.makeDirectories(dir)
            createdDirectories.insert(dir)
        }
        return "\(dir)/\(RunContext.fileName(step)).log"
    }

    /// The step's progress file in this run, its directory created (the step creates the file
    /// when it first reports).
    func progressPath(run: Int64, step: String) -> String {
        let dir = "\(stateDirectory)/progress/\(run)"
        if !createdDirectories.contains(dir) {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            createdDirectories.insert(dir)
        }
        return progressFile(run: run, step: step)
    }

    /// The step's progress file in this run (nothing created).
    public func progressFile(run: Int64, step: String) -> String {
        "\(stateDirectory)/progress/\(run)/\(RunContext.fileName(step))"
    }

    /// A file name for a step's log, progress file or job record: the name itself when it is
    /// plain and short; otherwise its plain characters (at most 80) and a digest of the whole name,
    /// so that `s[1]` and `s_1_` never share a file and a long instance name still fits.
    static func fileName(_ step: String) -> String {
        let plain = String(step.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") ? $0 : "_" })
        if plain == step && step.utf8.count <= 100 && !step.hasPrefix(".") { return step }
        return String(plain.prefix(80)) + "-" + XXH128.hash(step).hex.prefix(12)
    }

    /// `.flow/tmp/`: restores write their temporaries here; a run empties it when it starts.
    public var scratchDirectory: String { stateDirectory + "/tmp" }

    /// Removes what killed processes left half-written: `.flow/tmp/` of this workspace (called by
    /// a run, which holds the workspace lock) and the cache's temporaries of dead processes.
    public func removeLeftovers() {
        try? FileManager.default.removeItem(atPath: scratchDirectory)
        try? FileManager.default.createDirectory(atPath: scratchDirectory, withIntermediateDirectories: true)
        TemporaryName.removeLeftovers(in: cacheDirectory + "/tmp")
    }

    /// The checkpoint directory of an action key: it survives failures and retries of that key.
    public func checkpointDirectory(_ key: Digest128) -> String {
        "\(cacheDirectory)/checkpoints/\(key.hex)"
    }

    func removeCheckpoint(_ key: Digest128) {
        try? FileManager.default.removeItem(atPath: checkpointDirectory(key))
    }
}
