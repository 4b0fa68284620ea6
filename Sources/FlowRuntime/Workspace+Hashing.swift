import Dispatch
import Foundation
import Glibc
import XXHash

extension Workspace {
    /// Below this many files a directory is hashed on the calling thread: starting workers costs
    /// more than it saves.
    static let parallelThreshold = 64

    /// The digest and signature of each of `paths` (workspace-relative, or absolute under an
    /// external root), as `fileDigest` gives them one by one, computed on every core.
    ///
    /// Each worker stats its files (one `stat` per file: no per-directory shortcut is safe, a file
    /// rewritten in place changes only its own signature), takes the digest from the stat cache
    /// when the signature is unchanged, and hashes the file otherwise. Observations, collected
    /// signatures and new stat-cache entries are recorded afterwards, on the calling thread, in
    /// the order of `paths`. `label` names the directory in the progress line, which is shown on
    /// a terminal when hashing takes more than half a second.
    func fileDigests(_ paths: [String], label: String) throws -> [(Digest128, FileStat)] {
        if paths.count < Workspace.parallelThreshold { return try paths.map { try fileDigest($0) } }
        var slots = [HashSlot](repeating: HashSlot(), count: paths.count)
        let cache = statCache
        let progress = HashProgress(label: label, total: paths.count)
        let chunk = 256
        let chunks = (paths.count + chunk - 1) / chunk
        let absolutes = paths.map(absolute)
        slots.withUnsafeMutableBufferPointer { buffer in
            // nonisolated(unsafe): each worker writes only the slots of its own chunk.
            nonisolated(unsafe) let out = buffer
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                var hashedFiles = 0, hashedBytes: Int64 = 0
                for i in c * chunk ..< min(paths.count, (c + 1) * chunk) {
                    let path = paths[i]
                    let abs = absolutes[i]
                    guard let before = FileStat.of(abs) else { continue }
                    out[i].stat = before
                    if let (st, d) = cache[path], st.sameSignature(before) {
                        out[i].digest = d
                        continue
                    }
                    do {
                        out[i].digest = try ContentHash.file(abs)
                        // Only trust the digest if the file did not change while it was read.
                        out[i].stable = FileStat.of(abs)?.sameSignature(before) == true
                        hashedFiles += 1
                        hashedBytes += before.size
                    } catch {
                        out[i].error = error
                    }
                }
                progress.add(checked: min(paths.count, (c + 1) * chunk) - c * chunk, hashed: hashedFiles, bytes: hashedBytes)
            }
        }
        progress.finish()
        var result: [(Digest128, FileStat)] = []
        result.reserveCapacity(paths.count)
        for (path, slot) in zip(paths, slots) {
            observe(path, slot.stat)
            if let error = slot.error { throw error }
            guard let st = slot.stat, let digest = slot.digest else { throw SystemError("read", path, errno: ENOENT) }
            if collectedStats != nil { collectedStats![path] = st }
            if slot.stable { remember(path, st, digest) }
            result.append((digest, st))
        }
        return result
    }
}

/// What one worker found for one file.
struct HashSlot {
    /// nil: the file was gone when stated.
    var stat: FileStat?
    var digest: Digest128?
    /// Hashed now, and unchanged while it was read: a new stat-cache entry.
    var stable = false
    var error: (any Error)?
}

/// Counts what the hashing workers did and, on a terminal, shows it on one line of standard
/// error, redrawn at most five times a second: files checked of the total, files and bytes read,
/// and the rates.
///
/// `@unchecked Sendable`: every mutable field is read and written only while `lock` is held.
final class HashProgress: @unchecked Sendable {
    let label: String
    let total: Int
    let lock = NSLock()
    let start = HashProgress.now()
    let terminal = isatty(2) != 0 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    var checked = 0, hashed = 0, bytes: Int64 = 0
    var lastDraw = 0.0
    var drawn = false

    init(label: String, total: Int) {
        self.label = label
        self.total = total
    }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    func add(checked c: Int, hashed h: Int, bytes b: Int64) {
        lock.lock()
        defer { lock.unlock() }
        checked += c
        hashed += h
        bytes += b
        let t = HashProgress.now()
        guard terminal, t - start > 0.5, t - lastDraw > 0.2 else { return }
        lastDraw = t
        drawn = true
        write("\r\u{1B}[K" + line(elapsed: t - start))
    }

    /// Ends the progress line with a summary, when one was shown.
    func finish() {
        lock.lock()
        defer { lock.unlock() }
        guard drawn else { return }
        write("\r\u{1B}[K" + line(elapsed: HashProgress.now() - start) + "\n")
    }

    func line(elapsed: Double) -> String {
        let s = max(elapsed, 1e-3)
        return "hashing \(label): \(checked)/\(total) files, \(hashed) read (\(HashProgress.bytes(bytes))), " +
               String(format: "%.0f files/s, %@/s", Double(hashed) / s, HashProgress.bytes(Int64(Double(bytes) / s)))
    }

    func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func bytes(_ n: Int64) -> String { ByteCount.text(n) }
}
