import Foundation
import Glibc

/// What `flow exec` leaves on the shared file system when a step's command ends on a node:
/// `<cache>/jobs/<step>-<jobid>.json`, written atomically (temporary file, then rename).
/// The coordinator commits from it; Slurm's own accounting is only the second source.
public struct SlurmCompletionRecord: Codable, Equatable, Sendable {
    public var version = 1
    public var job: String
    public var step: String
    /// The command's exit status, when it exited.
    public var exitStatus: Int32?
    /// The signal that ended the command, when one did.
    public var signal: Int32?
    /// Signals `flow exec` itself received (TERM from a cancel or time limit, USR1 as a warning).
    public var signalsReceived: [Int32]
    public var started: Double
    public var ended: Double
    public var node: String
    /// Declared output path → XXH128 hex of the file (or of the directory tree); "missing" when absent.
    public var outputs: [String: String]

    public init(job: String, step: String, exitStatus: Int32?, signal: Int32?, signalsReceived: [Int32],
                started: Double, ended: Double, node: String, outputs: [String: String]) {
        self.job = job
        self.step = step
        self.exitStatus = exitStatus
        self.signal = signal
        self.signalsReceived = signalsReceived
        self.started = started
        self.ended = ended
        self.node = node
        self.outputs = outputs
    }

    public var succeeded: Bool { exitStatus == 0 }

    /// `flow exec` was asked to stop (SIGTERM, SIGINT or SIGHUP; SIGUSR1 is only a warning):
    /// an exit 0 then counts only if Slurm says the job completed.
    public var wasStopped: Bool { signalsReceived.contains { $0 != SIGUSR1 } }

    /// `path` with `%j` replaced by the job id.
    public static func path(_ pattern: String, job: String) -> String {
        pattern.replacingOccurrences(of: "%j", with: job)
    }

    public static func read(_ path: String) -> SlurmCompletionRecord? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(SlurmCompletionRecord.self, from: data)
    }

    /// Writes the record to a temporary file beside `path`, syncs it, and renames it into place.
    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data = try encoder.encode(self)
        let dir = (path as NSString).deletingLastPathComponent
        try FileIO.makeDirectories(dir)
        try AtomicFile.write(Array(data), to: path, durable: true)
    }
}

extension SlurmCompletionRecord {
    /// The digest of an output as the cache would compute it: XXH3-128 of a file, or the Merkle
    /// digest of a directory's files; "missing" when there is nothing at `path`.
    public static func digest(ofOutput path: String) -> String {
        guard let st = FileStat.of(path) else { return "missing" }
        if !st.isDirectory { return (try? ContentHash.file(path).hex) ?? "unreadable" }
        guard let files = try? ContentHash.listFiles(path) else { return "unreadable" }
        var entries: [ContentHash.TreeEntry] = []
        for rel in files {
            let abs = path + "/" + rel
            guard let s = FileStat.of(abs), let d = try? ContentHash.file(abs) else { return "unreadable" }
            entries.append(ContentHash.TreeEntry(path: rel, digest: d, size: s.size, executable: s.isExecutable))
        }
        return ContentHash.tree(entries).hex
    }
}
