import Foundation
import Glibc
import XXHash

/// The result of one step run: each output (a file, or a directory and its files) by digest,
/// with the exit status, the timing and the log. Stored as `actions/ab/<key>` in the text
/// format below, written atomically after every object it names is in the store:
///
///     flow-manifest v2                         (v1 when no file is inline)
///     key       <hex>
///     step      <name>
///     exit      0
///     duration  12.5
///     finished  <unix time>
///     host      <name>
///     log       <hex> [<base64>]               (absent when no log was kept)
///     file      <path> <hex> <size> <x|-> [<base64>]   an output file
///     dir       <path> <merkle hex> <size>     an output directory, followed by its files:
///     entry     <relative path> <hex> <size> <x|-> [<base64>]
///     end
///
/// A trailing base64 field holds the file's bytes, for a small file kept inside the manifest
/// instead of as an object (see Manifest+Inline.swift). Fields are tab-separated (see
/// `TextRecord`). Readers ignore lines they do not know.
public struct Manifest: Codable, Equatable, Sendable {
    public struct Entry: Codable, Equatable, Sendable {
        /// Relative to the output directory for directory entries; the workspace path for files.
        public var path: String
        public var digest: String
        public var size: Int64
        public var executable: Bool
        /// The file's bytes, base64, when the manifest keeps them instead of an object.
        public var inline: String?

        public init(path: String, digest: String, size: Int64, executable: Bool, inline: String? = nil) {
            self.path = path
            self.digest = digest
            self.size = size
            self.executable = executable
            self.inline = inline
        }
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
        /// A file's bytes, base64, when the manifest keeps them instead of an object.
        public var inline: String?

        public init(path: String, kind: String, digest: String, size: Int64, executable: Bool, entries: [Entry]?, inline: String? = nil) {
            self.path = path
            self.kind = kind
            self.digest = digest
            self.size = size
            self.executable = executable
            self.entries = entries
            self.inline = inline
        }

        public var isDirectory: Bool { kind == "directory" }
    }

    /// Not read or written by the text form, whose version line follows from its content (v2
    /// when a file is inline; see `text`).
    public var version = 1
    public var key: String
    public var step: String
    public var outputs: [Output]
    public var exitStatus: Int32
    public var duration: Double
    public var finishedAt: Double
    public var log: String?
    /// The log's bytes, base64, when the manifest keeps them instead of an object.
    public var logInline: String?
    public var host: String

    public init(key: String, step: String, outputs: [Output], exitStatus: Int32, duration: Double, finishedAt: Double,
                log: String?, logInline: String? = nil, host: String) {
        self.key = key
        self.step = step
        self.outputs = outputs
        self.exitStatus = exitStatus
        self.duration = duration
        self.finishedAt = finishedAt
        self.log = log
        self.logInline = logInline
        self.host = host
    }

    public var totalSize: Int64 { outputs.reduce(0) { $0 + $1.size } }

    /// Every object the manifest needs: not those of the files it keeps inline.
    public var objectDigests: [Digest128] {
        var result: [Digest128] = []
        for o in outputs {
            if let entries = o.entries {
                result += entries.compactMap { $0.inline == nil ? Digest128(hex: $0.digest) : nil }
            } else if o.inline == nil, let d = Digest128(hex: o.digest) {
                result.append(d)
            }
        }
        if let log, logInline == nil, let d = Digest128(hex: log) { result.append(d) }
        return result
    }
}

/// Action key → manifest, as files under `cache/actions/`.
public final class ActionCache {
    public let root: String
    /// Whether a lookup may trust one listing of `actions/`, taken at the first lookup: a key
    /// whose shard directory (`actions/ab`) was not there then is answered "none" without an
    /// open(). A fresh workspace's `flow status` of a million steps made a million failed opens.
    ///
    /// Shard directories are never removed, so a listed shard is there for good; but another
    /// process may create one after the listing, and its results are then missed. Only a
    /// command that reports sets this (`flow status`): it answers as of the listing, as if it
    /// had run a moment earlier. `flow run` leaves it off and opens every entry when it looks
    /// for it, so that it never misses a result that is in the cache at that moment.
    public var listsShardsOnce = false
    /// The shard directories present at the listing, by their number (`ab` is 0xab).
    private var listedShards: [Bool]?

    public init(root: String) {
        self.root = root
    }

    /// Whether the listing says that `key` has no manifest.
    private func shardIsMissing(_ key: Digest128) -> Bool {
        guard listsShardsOnce else { return false }
        if listedShards == nil {
            var present = Array(repeating: false, count: 256)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: root + "/actions")) ?? [] {
                if name.utf8.count == 2, let n = UInt8(name, radix: 16), name == name.lowercased() { present[Int(n)] = true }
            }
            listedShards = present
        }
        return !listedShards![Int(key.high >> 56)]
    }

    func path(_ key: Digest128) -> String {
        shard(key) + "/" + key.hex
    }

    /// The directory of `key`'s manifest, spelt from `root` as given (an error names it so).
    func shard(_ key: Digest128) -> String {
        root + "/actions/" + key.hex.prefix(2)
    }

    public func lookup(_ key: Digest128) -> Manifest? {
        if shardIsMissing(key) { return nil }
        guard let bytes = try? FileIO.readAll(path(key), sizeHint: 4096) else { return nil }
        return Manifest(text: String(decoding: bytes, as: UTF8.self))
    }

    public func store(_ manifest: Manifest, key: Digest128) throws {
        let p = path(key)
        let dir = shard(key)
        if mkdir(dir, 0o755) != 0 && errno != EEXIST { throw SystemError("create directory", dir) }
        // What this process writes, it finds again.
        listedShards?[Int(key.high >> 56)] = true
        try AtomicFile.write(Array(manifest.text.utf8), to: p, temporaryDirectory: "\(root)/tmp")
    }

    public func remove(_ key: Digest128) {
        if unlink(path(key)) == 0 { CacheGeneration.bump(root) }
    }

    /// Every manifest, with its key.
    public func all() -> [(key: Digest128, manifest: Manifest)] {
        var result: [(Digest128, Manifest)] = []
        let base = root + "/actions"
        for d in ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).sorted() {
            for n in ((try? FileManager.default.contentsOfDirectory(atPath: base + "/" + d)) ?? []).sorted() {
                guard let key = Digest128(hex: n), let m = lookup(key) else { continue }
                result.append((key, m))
            }
        }
        return result
    }
}

extension Manifest {
    public var text: String {
        var s = hasInlineBytes ? "flow-manifest v2\n" : "flow-manifest v1\n"
        s += TextRecord.line(["key", key]) + TextRecord.line(["step", step]) + TextRecord.line(["exit", String(exitStatus)])
        s += TextRecord.line(["duration", String(duration)]) + TextRecord.line(["finished", String(finishedAt)])
        s += TextRecord.line(["host", host])
        if let log { s += TextRecord.line(["log", log] + (logInline.map { [$0] } ?? [])) }
        for o in outputs {
            if let entries = o.entries {
                s += TextRecord.line(["dir", o.path, o.digest, String(o.size)])
                for e in entries {
                    s += TextRecord.line(["entry", e.path, e.digest, String(e.size), e.executable ? "x" : "-"] + (e.inline.map { [$0] } ?? []))
                }
            } else {
                s += TextRecord.line(["file", o.path, o.digest, String(o.size), o.executable ? "x" : "-"] + (o.inline.map { [$0] } ?? []))
            }
        }
        return s + "end\n"
    }

    /// Parses the text form; nil when it is not a complete v1 or v2 manifest. Inline bytes are
    /// kept as text here: `structuralProblem` checks them.
    public init?(text: String) {
        // The `end` line proves the manifest is whole.
        guard text.hasPrefix("flow-manifest v1\n") || text.hasPrefix("flow-manifest v2\n"), text.hasSuffix("\nend\n") else { return nil }
        var key = "", step = "", host = "", log: String?, logInline: String?
        var exit: Int32 = 0, duration = 0.0, finished = 0.0
        var outputs: [Output] = []
        // A size that is not a number reads as -1, which the manifest checks refuse: never as 0.
        func size(_ text: String) -> Int64 { Int64(text) ?? -1 }
        for f in TextRecord.records(text).dropFirst() {
            switch (f.first ?? "", f.count) {
            case ("key", 2): key = f[1]
            case ("step", 2): step = f[1]
            case ("exit", 2): exit = Int32(f[1]) ?? -1
            case ("duration", 2): duration = Double(f[1]) ?? 0
            case ("finished", 2): finished = Double(f[1]) ?? 0
            case ("host", 2): host = f[1]
            case ("log", 2): log = f[1]
            case ("log", 3): (log, logInline) = (f[1], f[2])
            case ("file", 5), ("file", 6):
                outputs.append(Output(path: f[1], kind: "file", digest: f[2], size: size(f[3]), executable: f[4] == "x", entries: nil,
                                      inline: f.count == 6 ? f[5] : nil))
            case ("dir", 4):
                outputs.append(Output(path: f[1], kind: "directory", digest: f[2], size: size(f[3]), executable: false, entries: []))
            case ("entry", 5), ("entry", 6):
                guard !outputs.isEmpty, outputs[outputs.count - 1].entries != nil else { return nil }
                outputs[outputs.count - 1].entries!.append(Entry(path: f[1], digest: f[2], size: size(f[3]), executable: f[4] == "x",
                                                                 inline: f.count == 6 ? f[5] : nil))
            default: continue
            }
        }
        guard !key.isEmpty else { return nil }
        self.init(key: key, step: step, outputs: outputs, exitStatus: exit, duration: duration, finishedAt: finished, log: log,
                  logInline: logInline, host: host)
    }
}
