import Foundation
import Glibc
import XXHash

/// The result of one step run: each output (a file, or a directory and its files) by digest,
/// with the exit status, the timing and the log. Stored as `actions/ab/<key>.json`, written
/// atomically after every object it names is in the store.
public struct Manifest: Codable, Equatable, Sendable {
    public struct Entry: Codable, Equatable, Sendable {
        /// Relative to the output directory for directory entries; the workspace path for files.
        public var path: String
        public var digest: String
        public var size: Int64
        public var executable: Bool
    }

    public struct Output: Codable, Equatable, Sendable {
        public var path: String
        /// "file" or "directory".
        public var kind: String
        /// For a directory, its Merkle digest.
        public var digest: String
        public var size: Int64
        public var executable: Bool
        /// A directory's files.
        public var entries: [Entry]?

        public var isDirectory: Bool { kind == "directory" }
    }

    public var version = 1
    public var key: String
    public var step: String
    public var outputs: [Output]
    public var exitStatus: Int32
    public var duration: Double
    public var finishedAt: Double
    public var log: String?
    public var host: String

    public var totalSize: Int64 { outputs.reduce(0) { $0 + $1.size } }

    /// Every object the manifest needs.
    public var objectDigests: [Digest128] {
        var result: [Digest128] = []
        for o in outputs {
            if let entries = o.entries {
                result += entries.compactMap { Digest128(hex: $0.digest) }
            } else if let d = Digest128(hex: o.digest) {
                result.append(d)
            }
        }
        if let log, let d = Digest128(hex: log) { result.append(d) }
        return result
    }
}

/// Action key → manifest, as files under `cache/actions/`.
public final class ActionCache {
    public let root: String

    public init(root: String) {
        self.root = root
    }

    func path(_ key: Digest128) -> String {
        "\(root)/actions/\(key.hex.prefix(2))/\(key.hex).json"
    }

    public func lookup(_ key: Digest128) -> Manifest? {
        guard let data = FileManager.default.contents(atPath: path(key)) else { return nil }
        return try? JSONDecoder().decode(Manifest.self, from: data)
    }

    public func store(_ manifest: Manifest, key: Digest128) throws {
        let p = path(key)
        let dir = (p as NSString).deletingLastPathComponent
        if mkdir(dir, 0o755) != 0 && errno != EEXIST { throw SystemError("create directory", dir) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data = try encoder.encode(manifest)
        try FileIO.writeAtomically(p, Array(data))
    }

    public func remove(_ key: Digest128) {
        unlink(path(key))
    }

    /// Every manifest, with its key.
    public func all() -> [(key: Digest128, manifest: Manifest)] {
        var result: [(Digest128, Manifest)] = []
        let base = root + "/actions"
        for d in ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).sorted() {
            for n in ((try? FileManager.default.contentsOfDirectory(atPath: base + "/" + d)) ?? []).sorted() where n.hasSuffix(".json") {
                guard let key = Digest128(hex: n.dropLast(5)), let m = lookup(key) else { continue }
                result.append((key, m))
            }
        }
        return result
    }
}
