import CSpawn
import Foundation
import Glibc
import LZ4
import XXHash

// The cache directory (default `cache/` in the workspace; `--cache DIR` or FLOW_CACHE elsewhere).
//
//   objects/ab/<digest>          an object: bytes whose XXH3-128 is <digest> (32 hex digits)
//   objects/ab/<digest>.lz4      the same object stored as one LZ4 frame (digest of the plain bytes)
//   actions/ab/<key>             an action manifest: the outputs of the step with action key <key>,
//                                with the bytes of its small files (see Manifest+Inline.swift)
//   checkpoints/<key>/           checkpoint directories of steps in progress
//   tmp/                         temporaries, named <pid>-<random>; anything here is garbage
//
// Objects are immutable. Each is written under a temporary name in tmp/, then renamed into place,
// so no process ever sees a torn object, and a manifest is written (the same way) only after
// every object it names is in place: a flow killed at any instant (kill -9, OOM, Ctrl-C) leaves
// the cache consistent. Against power loss, the store syncs the file system (one syncfs(2) at
// most once a second, and at the end of every run) instead of an fsync per file, which costs
// ~6 ms each here; what a power loss could still tear is caught by reading: a manifest must end
// with its `end` line to count, and every object is verified against its digest when restored
// (a mismatch evicts it and its step runs again). `--sync` syncs before every manifest.
// So a reader never uses a manifest that names a missing or torn object, whatever is killed when,
// and several workspaces, users or machines can share one cache without a lock: two writers of
// the same object write the same bytes, and the second rename is harmless. Objects are verified
// against their digest whenever they are restored; a mismatch evicts the object.

/// Where and how an object is stored.
public struct ObjectInfo: Equatable, Sendable {
    public var digest: Digest128
    public var size: Int64
    public var compressed: Bool
}

/// A restored object did not match its digest; it has been removed from the cache.
public struct CorruptObjectError: Error, CustomStringConvertible {
    public var digest: Digest128
    public var path: String
    public var description: String { "cache object \(digest.hex) is corrupt (\(path)); it was removed and will be rebuilt" }
}

/// An object a manifest names is not in the cache (removed by gc or verify since the manifest
/// was read): the step runs again.
public struct MissingObjectError: Error, CustomStringConvertible {
    public var digest: Digest128
    public var destination: String
    public var description: String { "cache object \(digest.hex) for '\(destination)' is no longer in the cache" }
}

/// How outputs are put into the workspace from the cache.
public enum LinkMode: String, CaseIterable, Sendable {
    /// A reflink (copy-on-write clone) where the file system supports it, else a copy. Never
    /// shares bytes that a user could edit in place: the safe default.
    case auto
    case copy
    /// A read-only hard link to the object: no copy at all, for large data sets. Files come back
    /// read-only; an edit must replace the file, not write into it (root can still write into it).
    case hardlink
}

public final class ObjectStore {
    public let root: String
    /// Files of this size or less that look compressible are stored as LZ4 frames.
    static let compressLimit: Int64 = 64 << 20
    /// Extensions of data that is already compressed, or dense binary that LZ4 cannot shrink.
    static let incompressible: Set<String> = [
        "jpg", "jpeg", "png", "gif", "webp", "gz", "tgz", "bz2", "xz", "zst", "lz4", "zip", "7z",
        "npy", "npz", "safetensors", "pt", "pth", "ckpt", "bin", "mp4", "mp3",
    ]

    /// Objects this process stored after checking them against their digests (downloads):
    /// restoring one copies it without hashing it a second time.
    let justVerified = LockedSet<Digest128>()

    /// Set when objects were written since the last `sync()`.
    var unsynced = false
    var lastSync = Date()

    public init(root: String) throws {
        self.root = root
        for sub in ["objects", "actions", "checkpoints", "tmp"] {
            let p = root + "/" + sub
            if mkdir(p, 0o755) != 0 && errno != EEXIST {
                // Create intermediate directories too (a new --cache path).
                try FileIO.makeDirectories(p)
            }
        }
    }

    func objectPath(_ digest: Digest128, compressed: Bool) -> String {
        let hex = digest.hex
        return "\(root)/objects/\(hex.prefix(2))/\(hex)\(compressed ? ".lz4" : "")"
    }

    /// The stored form of an object, if present.
    /// Only a regular file counts: a directory or a link where an object should be (a damaged or
    /// doctored cache) is no object, and `verify` removes it.
    public func lookup(_ digest: Digest128) -> ObjectInfo? {
        if let st = FileStat.of(objectPath(digest, compressed: false), followLinks: false), st.isRegular {
            return ObjectInfo(digest: digest, size: st.size, compressed: false)
        }
        if let st = FileStat.of(objectPath(digest, compressed: true), followLinks: false), st.isRegular {
            return ObjectInfo(digest: digest, size: -1, compressed: true)
        }
        return nil
    }

    public func contains(_ digest: Digest128) -> Bool { lookup(digest) != nil }

    func temporaryPath() -> String {
        "\(root)/tmp/\(TemporaryName.make())"
    }

    /// Copies the file at `path` into the store and returns its digest. `knownDigest` (from the
    /// stat cache) lets an object that is already stored be skipped without reading the file.
    @discardableResult
    public func ingest(_ path: String, knownDigest: Digest128? = nil) throws -> ObjectInfo {
        guard let st = FileStat.of(path) else { throw SystemError("read output", path, errno: ENOENT) }
        if let d = knownDigest, let info = lookup(d) { return ObjectInfo(digest: d, size: st.size, compressed: info.compressed) }
        let ext = WorkspacePathExtension.of(path)
        if st.size <= Self.compressLimit && !Self.incompressible.contains(ext) {
            let bytes = try readAll(path, size: Int(st.size))
            let digest = XXH128.hash(bytes)
            if contains(digest) { return ObjectInfo(digest: digest, size: st.size, compressed: lookup(digest)!.compressed) }
            if let packed = try Self.compressIfItPays(bytes) {
                try writeObject(packed, digest: digest, compressed: true)
                return ObjectInfo(digest: digest, size: st.size, compressed: true)
            }
            try writeObject(bytes, digest: digest, compressed: false)
            return ObjectInfo(digest: digest, size: st.size, compressed: false)
        }
        // Large or incompressible: stream, hashing while copying.
        let tmp = temporaryPath()
        let digest = try copyHashing(from: path, to: tmp)
        try publish(tmp, digest: digest, compressed: false)
        return ObjectInfo(digest: digest, size: st.size, compressed: false)
    }

    /// Stores bytes held in memory (logs, small records).
    @discardableResult
    public func ingest(bytes: [UInt8]) throws -> ObjectInfo {
        let digest = XXH128.hash(bytes)
        if let info = lookup(digest) { return ObjectInfo(digest: digest, size: Int64(bytes.count), compressed: info.compressed) }
        if let packed = try Self.compressIfItPays(bytes) {
            try writeObject(packed, digest: digest, compressed: true)
            return ObjectInfo(digest: digest, size: Int64(bytes.count), compressed: true)
        }
        try writeObject(bytes, digest: digest, compressed: false)
        return ObjectInfo(digest: digest, size: Int64(bytes.count), compressed: false)
    }

    /// LZ4 when it saves at least 20%, judged on a 256 KiB sample first so large files that do
    /// not compress cost little.
    static func compressIfItPays(_ bytes: [UInt8]) throws -> [UInt8]? {
        guard bytes.count >= 512 else { return nil }
        if bytes.count > 1 << 20 {
            let sample = try LZ4Frame.compress(Array(bytes.prefix(256 << 10)))
            if Double(sample.count) > 0.8 * Double(min(bytes.count, 256 << 10)) { return nil }
        }
        let packed = try LZ4Frame.compress(bytes)
        return Double(packed.count) <= 0.8 * Double(bytes.count) ? packed : nil
    }

    func writeObject(_ bytes: [UInt8], digest: Digest128, compressed: Bool) throws {
        let tmp = temporaryPath()
        try FileIO.writeAll(tmp, bytes, sync: false)
        try publish(tmp, digest: digest, compressed: compressed)
    }

    /// Renames a complete, fsynced temporary into place (or drops it when the object exists).
    func publish(_ tmp: String, digest: Digest128, compressed: Bool) throws {
        let dest = objectPath(digest, compressed: compressed)
        let dir = (dest as NSString).deletingLastPathComponent
        if mkdir(dir, 0o755) != 0 && errno != EEXIST { unlink(tmp); throw SystemError("create directory", dir) }
        chmod(tmp, 0o444)
        if let st = FileStat.of(dest, followLinks: false) {
            if st.isRegular { unlink(tmp); return }
            // Not an object (a damaged cache): replace it.
            try? FileManager.default.removeItem(atPath: dest)
        }
        guard rename(tmp, dest) == 0 else {
            let e = errno
            unlink(tmp)
            throw SystemError("store object", dest, errno: e)
        }
        unsynced = true
    }

    /// Makes every object written so far durable (one syncfs of the cache's file system).
    public func sync() throws {
        guard unsynced else { return }
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open", root) }
        defer { close(fd) }
        guard flow_syncfs(fd) == 0 else { throw SystemError("sync", root) }
        unsynced = false
        lastSync = Date()
    }

    /// Syncs when the last sync is more than `interval` seconds old.
    public func syncIfDue(interval: Double = 1) throws {
        if unsynced && Date().timeIntervalSince(lastSync) >= interval { try sync() }
    }

    func readAll(_ path: String, size: Int) throws -> [UInt8] {
        try FileIO.readAll(path, sizeHint: size)
    }

    /// Copies `from` to `to` (a new file), returning the digest of the bytes copied.
    func copyHashing(from: String, to: String, mode: mode_t = 0o644) throws -> Digest128 {
        try FileIO.copying(from: from, to: to, mode: mode) { src, dst in
            let hasher = XXH128Hasher()
            let chunk = ContentHash.chunk
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
            defer { buffer.deallocate() }
            while true {
                let n = try retrying("read", from) { read(src, buffer.baseAddress, chunk) }
                if n == 0 { break }
                hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                try FileIO.write(dst, UnsafeRawBufferPointer(rebasing: buffer[0..<n]), path: to)
            }
            return hasher.finalize()
        }
    }

    /// Puts object `digest` at `dest` (replacing what is there), verifying its content.
    /// A corrupt object is removed from the cache and reported as `CorruptObjectError`.
    ///
    /// The copy is written under a temporary name in `scratch` (the workspace's `.flow/tmp/`, which
    /// each run empties) and renamed into place, so a restore killed half-way leaves nothing in an
    /// output directory. Where `scratch` is on another file system than `dest`, or on another
    /// mount of it (a bind mount, which rename cannot cross either), the temporary goes beside
    /// `dest` instead (see `temporary(beside:in:)`).
    public func restore(_ digest: Digest128, to dest: String, executable: Bool, link: LinkMode, scratch: String? = nil) throws {
        guard let info = lookup(digest) else {
            throw MissingObjectError(digest: digest, destination: dest)
        }
        try place(at: dest, executable: executable, scratch: scratch) { tmp, mode in
            try copyOut(digest, info, to: tmp, mode: mode, link: link)
        }
    }

    /// Writes a file for `dest` with `write` (a new file at the path it is given, with the mode
    /// it is given, checked) under a temporary name, and renames it into place (see `restore`).
    func place(at dest: String, executable: Bool, scratch: String?, _ write: (_ tmp: String, _ mode: mode_t) throws -> Void) throws {
        let dir = (dest as NSString).deletingLastPathComponent
        let parent = dir.isEmpty ? "." : dir
        try FileIO.makeDirectories(parent)
        let mode: mode_t = executable ? 0o755 : 0o644
        if let scratch, !besideDestination.contains(parent),
           let a = FileStat.of(scratch), let b = FileStat.of(parent), a.device == b.device {
            let tmp = scratch + "/" + TemporaryName.make()
            try asRestoreOf(dest, writing: tmp) { try write(tmp, mode) }
            let e = moveIntoPlace(tmp, dest)
            if e == 0 { return }
            defer { unlink(tmp) }
            guard e == EXDEV else { throw SystemError("restore", dest, errno: e) }
            // The same file system at another mount point: from now on, this directory's
            // temporaries go beside their files. This one is copied there, already verified.
            let beside = temporary(beside: dest, in: parent)
            try asRestoreOf(dest, writing: beside) { try FileIO.copyFile(from: tmp, to: beside, mode: mode) }
            chmod(beside, mode)
            try place(beside, at: dest)
            return
        }
        let beside = temporary(beside: dest, in: parent)
        try asRestoreOf(dest, writing: beside) { try write(beside, mode) }
        try place(beside, at: dest)
    }

    /// Directories whose restores write their temporaries beside their files.
    let besideDestination = LockedSet<String>()

    /// A temporary name beside `dest` in directory `parent`: `NAME.flow-tmp-<TemporaryName>`. A
    /// restore killed while it writes one leaves it there, not in `.flow/tmp/`: so when a process
    /// first writes one in a directory, it removes those of dead processes (one listing per
    /// directory, however many files are restored into it).
    func temporary(beside dest: String, in parent: String) -> String {
        if besideDestination.insert(parent) {
            TemporaryName.removeLeftovers(in: parent) { $0.contains(Self.besideMarker) }
        }
        return dest + Self.besideMarker + TemporaryName.make()
    }

    static let besideMarker = ".flow-tmp-"

    /// Runs `body`, which writes temporary `tmp` for `dest`. A failure to write it (a read-only or
    /// full directory) names `dest`, the file the user asked for, and leaves no temporary.
    func asRestoreOf(_ dest: String, writing tmp: String, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch var e as SystemError where e.path == tmp {
            unlink(tmp)
            e.path = dest
            throw e
        }
    }

    /// Renames `tmp` to `dest`, or removes it and throws.
    func place(_ tmp: String, at dest: String) throws {
        let e = moveIntoPlace(tmp, dest)
        guard e == 0 else {
            unlink(tmp)
            throw SystemError("restore", dest, errno: e)
        }
    }

    /// Renames `tmp` to `dest`, replacing whatever is there, file or directory; 0 or the errno.
    func moveIntoPlace(_ tmp: String, _ dest: String) -> Int32 {
        if let st = FileStat.of(dest, followLinks: false), st.isDirectory {
            try? FileIO.removeTree(dest)
        }
        return Glibc.rename(tmp, dest) == 0 ? 0 : errno
    }

    /// Writes object `digest` at `tmp` (a new file) as `link` asks, and checks what was written
    /// against the digest; a corrupt object is removed from the cache.
    func copyOut(_ digest: Digest128, _ info: ObjectInfo, to tmp: String, mode: mode_t, link: LinkMode) throws {
        let object = objectPath(digest, compressed: info.compressed)
        var got: Digest128
        if info.compressed {
            let packed = try FileIO.readAll(object, sizeHint: 0)
            let bytes: [UInt8]
            do { bytes = try LZ4Frame.decompress(packed) } catch { bytes = [] ; got = Digest128(high: 0, low: 0) }
            got = XXH128.hash(bytes)
            if got == digest { try FileIO.writeAll(tmp, bytes, sync: false, mode: mode) }
        } else if link == .hardlink {
            got = try ContentHash.file(object)
            if got == digest {
                guard Glibc.link(object, tmp) == 0 else { throw SystemError("hard-link cache object to", tmp) }
            }
        } else if justVerified.contains(digest) {
            // Hashed as it arrived in this very process a moment ago: copied in the kernel, not
            // hashed again (the bytes have not left the page cache or this machine since).
            try FileIO.copyFile(from: object, to: tmp, mode: mode)
            got = digest
        } else {
            if link == .auto, FileIO.reflink(from: object, to: tmp, mode: mode) {
                got = try ContentHash.file(tmp)
            } else {
                got = try copyHashing(from: object, to: tmp, mode: mode)
            }
        }
        guard got == digest else {
            unlink(tmp)
            unlink(object)
            CacheGeneration.bump(root)
            throw CorruptObjectError(digest: digest, path: object)
        }
        if link != .hardlink { chmod(tmp, mode) }
    }

    /// The bytes of a stored object (decompressed), checked against its digest.
    public func contents(_ digest: Digest128) throws -> [UInt8] {
        guard let info = lookup(digest) else { throw SystemError("find cache object \(digest.hex)", root, errno: ENOENT) }
        let path = objectPath(digest, compressed: info.compressed)
        let raw = try FileIO.readAll(path, sizeHint: 0)
        let bytes = info.compressed ? try LZ4Frame.decompress(raw) : raw
        guard XXH128.hash(bytes) == digest else { throw CorruptObjectError(digest: digest, path: path) }
        return bytes
    }

    /// Re-hashes one stored object; false (and the object removed, unless `dryRun`) when corrupt.
    public func verify(_ digest: Digest128, dryRun: Bool = false) -> Bool {
        guard let info = lookup(digest) else {
            // Something that is not a regular file sits where the object would be.
            var bad = false
            for compressed in [false, true] {
                let p = objectPath(digest, compressed: compressed)
                guard FileStat.of(p, followLinks: false) != nil else { continue }
                bad = true
                if !dryRun { try? FileManager.default.removeItem(atPath: p) }
            }
            if bad && !dryRun { CacheGeneration.bump(root) }
            return !bad
        }
        let path = objectPath(digest, compressed: info.compressed)
        let actual: Digest128?
        if info.compressed {
            actual = (try? FileIO.readAll(path, sizeHint: 0)).flatMap { try? LZ4Frame.decompress($0) }.map { XXH128.hash($0) }
        } else {
            actual = try? ContentHash.file(path)
        }
        if actual == digest { return true }
        if !dryRun, unlink(path) == 0 { CacheGeneration.bump(root) }
        return false
    }

    /// Every stored object: digest, path and size on disk.
    public func allObjects() -> [(digest: Digest128, path: String, bytes: Int64)] {
        var result: [(Digest128, String, Int64)] = []
        let base = root + "/objects"
        guard let dirs = try? FileManager.default.contentsOfDirectory(atPath: base) else { return [] }
        for d in dirs.sorted() {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: base + "/" + d) else { continue }
            for n in names.sorted() {
                let hex = n.hasSuffix(".lz4") ? String(n.dropLast(4)) : n
                guard let digest = Digest128(hex: hex) else { continue }
                let p = base + "/" + d + "/" + n
                result.append((digest, p, FileStat.of(p)?.size ?? 0))
            }
        }
        return result
    }
}

enum WorkspacePathExtension {
    /// The lowercased last extension of a path's file name.
    static func of(_ path: String) -> String {
        let name = path.split(separator: "/").last ?? ""
        guard let dot = name.lastIndex(of: ".") else { return "" }
        return name[name.index(after: dot)...].lowercased()
    }
}
