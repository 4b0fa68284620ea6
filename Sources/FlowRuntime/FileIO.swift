import Foundation
import Glibc

/// Whole-file reads and writes with errno-carrying errors, fsync, and reflinks.
enum FileIO {
    static func readAll(_ path: String, sizeHint: Int) throws -> [UInt8] {
        let fd = try retrying("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var result = [UInt8]()
        result.reserveCapacity(sizeHint)
        let chunk = 1 << 20
        var buffer = [UInt8](repeating: 0, count: chunk)
        while true {
            let n = try buffer.withUnsafeMutableBytes { b in try retrying("read", path) { read(fd, b.baseAddress, chunk) } }
            if n == 0 { break }
            result.append(contentsOf: buffer[0..<n])
        }
        return result
    }

    static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = try retrying("write", path) { Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset) }
            offset += n
        }
    }

    /// Creates `path` (which must not exist) with `bytes`; fsyncs it when `sync`.
    static func writeAll(_ path: String, _ bytes: [UInt8], sync: Bool, mode: mode_t = 0o644) throws {
        let fd = try retrying("create", path) { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(path) }
        }
        try bytes.withUnsafeBytes { try write(fd, $0, path: path) }
        if sync { try retrying("sync", path) { fsync(fd) } }
        ok = true
    }

    /// Writes `bytes` to `path` atomically: a temporary beside it, fsync, rename, fsync of the directory.
    static func writeAtomically(_ path: String, _ bytes: [UInt8]) throws {
        let tmp = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try writeAll(tmp, bytes, sync: true)
        guard rename(tmp, path) == 0 else {
            let e = errno
            unlink(tmp)
            throw SystemError("write", path, errno: e)
        }
        syncDirectory((path as NSString).deletingLastPathComponent)
    }

    static func syncDirectory(_ dir: String) {
        let fd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    /// A copy-on-write clone (FICLONE) of `from` at new file `to`; false where unsupported.
    static func reflink(from: String, to: String, mode: mode_t) -> Bool {
        let src = open(from, O_RDONLY | O_CLOEXEC)
        guard src >= 0 else { return false }
        defer { close(src) }
        let dst = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard dst >= 0 else { return false }
        let ficlone: UInt = 0x4004_9409
        let ok = ioctl(dst, ficlone, src) == 0
        close(dst)
        if !ok { unlink(to) }
        return ok
    }
}
