import Foundation
import Glibc

/// Writes a whole file so that a reader sees its old content or its new content, never a part:
/// the bytes go to a temporary file (named by `TemporaryName`, so leftovers of a killed process
/// are recognised), are written in full (EINTR retried, short writes continued), optionally
/// fsynced, and the temporary is renamed over the destination; with `durable`, the directory is
/// fsynced too, so the rename survives a power loss. On every failure the temporary is removed
/// and the destination is left as it was, and the error names the destination and the step
/// that failed.
///
/// Every writer of flow's own files (manifests, the fresh snapshot, the cache's generation
/// marker, Slurm completion records, atomically replaced state) goes through here.
public enum AtomicFile {
    /// The system calls made, as a seam for tests: each can be made to fail (swift-system's
    /// mocking, by hand). Only tests change it, before any concurrent use.
    struct Calls {
        var open: (String, Int32, mode_t) -> Int32 = { Glibc.open($0, $1, $2) }
        var write: (Int32, UnsafeRawPointer?, Int) -> Int = { Glibc.write($0, $1, $2) }
        var fsync: (Int32) -> Int32 = { Glibc.fsync($0) }
        var close: (Int32) -> Int32 = { Glibc.close($0) }
        var rename: (String, String) -> Int32 = { Glibc.rename($0, $1) }
    }

    // Safe: replaced only by single-threaded unit tests, and restored by them.
    nonisolated(unsafe) static var calls = Calls()

    /// Writes `bytes` at `path` atomically. The temporary goes in `temporaryDirectory` (which must
    /// be on the same file system) or, when nil, beside `path`.
    public static func write(_ bytes: [UInt8], to path: String, temporaryDirectory: String? = nil,
                             mode: mode_t = 0o644, durable: Bool = false) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let tmp = (temporaryDirectory ?? (directory.isEmpty ? "." : directory)) + "/.\(TemporaryName.make()).tmp"
        var fd: Int32 = -1
        var placed = false
        defer {
            if fd >= 0 { _ = calls.close(fd) }
            if !placed { unlink(tmp) }
        }
        fd = try check(calls.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode), "create a temporary file for", path)
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let rest = UnsafeRawBufferPointer(rebasing: buffer[offset...])
                let n = calls.write(fd, rest.baseAddress, rest.count)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw SystemError("write", path, errno: n == 0 ? EIO : errno) }
                offset += n
            }
        }
        if durable {
            while calls.fsync(fd) != 0 {
                guard errno == EINTR else { throw SystemError("sync", path) }
            }
        }
        let closed = calls.close(fd)
        fd = -1
        // A deferred write error (NFS, a full disk) can surface only at close.
        guard closed == 0 || errno == EINTR else { throw SystemError("write", path) }
        _ = try check(calls.rename(tmp, path), "put in place", path)
        placed = true
        if durable { FileIO.syncDirectory(directory) }
    }

    static func check(_ rc: Int32, _ operation: String, _ path: String) throws -> Int32 {
        guard rc >= 0 else { throw SystemError(operation, path) }
        return rc
    }
}
