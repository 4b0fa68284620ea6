import CSpawn
import Foundation
import Glibc

/// Whole-file reads and writes with errno-carrying errors, fsync, and reflinks.
enum FileIO {
    static func readAll(_ path: String, sizeHint: Int) throws -> [UInt8] {
        let fd = try retrying("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var st = stat()
        let size = fstat(fd, &st) == 0 ? Int(st.st_size) : sizeHint
        // Read straight into the array's storage; one extra byte detects a file that grew.
        var result = [UInt8](unsafeUninitializedCapacity: size + 1) { buffer, count in
            count = 0
            while count < buffer.count {
                let rest = UnsafeMutableBufferPointer(rebasing: buffer[count...])
                let n = read(fd, rest.baseAddress, rest.count)
                if n > 0 { count += n } else if n == 0 || errno != EINTR { break }
            }
        }
        if result.count <= size { return result }
        // The file grew while read: take the rest in pieces.
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = try chunk.withUnsafeMutableBytes { b in try retrying("read", path) { read(fd, b.baseAddress, b.count) } }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let n = try retrying("write", path) { Glibc.write(fd, rest.baseAddress, rest.count) }
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

    /// Writes `bytes` to `path` atomically and durably (see `AtomicFile`).
    static func writeAtomically(_ path: String, _ bytes: [UInt8]) throws {
        try AtomicFile.write(bytes, to: path, durable: true)
    }

    static func syncDirectory(_ dir: String) {
        let fd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    /// `mkdir -p`: creates `path` and its missing parents. A failure names the component that
    /// failed and why (a file where a directory should be, a read-only parent, a full disk).
    static func makeDirectories(_ path: String) throws {
        // Usually there already: one stat, not a mkdir per component.
        if let st = FileStat.of(path), st.isDirectory { return }
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) == 0 { continue }
            let e = errno
            guard e == EEXIST else { throw SystemError("create directory", current, errno: e) }
            guard let st = FileStat.of(current), st.isDirectory else { throw SystemError("create directory", current, errno: ENOTDIR) }
        }
    }

    /// `rm -rf`: removes a file, a link or a directory tree (never following links). A missing
    /// path is not an error; any other failure names the path and why.
    static func removeTree(_ path: String) throws {
        guard let st = FileStat.of(path, followLinks: false) else { return }
        if !st.isDirectory {
            if unlink(path) != 0 && errno != ENOENT { throw SystemError("remove", path) }
            return
        }
        guard let dir = opendir(path) else { throw SystemError("list directory", path) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(dir)
        for name in names { try removeTree(path + "/" + name) }
        // A mount point (an output directory on a disk of its own) cannot be removed: emptied,
        // it is what the caller wanted, as every caller makes the directory again or wants it gone.
        if rmdir(path) != 0 && errno != ENOENT && errno != EBUSY { throw SystemError("remove directory", path) }
    }

    /// Opens `from` to read and creates `to` (which must not exist), and runs `body` on the two
    /// descriptors; `to` is removed when `body` throws, so no half-copied file stays behind.
    static func copying<T>(from: String, to: String, mode: mode_t, _ body: (_ source: Int32, _ destination: Int32) throws -> T) throws -> T {
        let src = try retrying("open", from) { open(from, O_RDONLY | O_CLOEXEC) }
        defer { close(src) }
        let dst = try retrying("create", to) { open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode) }
        var ok = false
        defer {
            close(dst)
            if !ok { unlink(to) }
        }
        let result = try body(src, dst)
        ok = true
        return result
    }

    /// Copies `from` to `to` (a new file) in the kernel (`copy_file_range`), with no pass of the
    /// bytes through this process; falls back to read and write where the kernel cannot.
    static func copyFile(from: String, to: String, mode: mode_t) throws {
        try copying(from: from, to: to, mode: mode) { src, dst in
            while true {
                let n = flow_copy_file_range(src, dst, 1 << 30)
                if n > 0 { continue }
                if n == 0 { return }
                if errno == EINTR { continue }
                guard errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP else { throw SystemError("copy to", to) }
                // Not in the kernel here: the plain way, from where the kernel stopped.
                var buffer = [UInt8](repeating: 0, count: 1 << 20)
                while true {
                    let r = try buffer.withUnsafeMutableBytes { b in try retrying("read", from) { read(src, b.baseAddress, b.count) } }
                    if r == 0 { return }
                    try buffer.withUnsafeBytes { b in try write(dst, UnsafeRawBufferPointer(rebasing: b[0..<r]), path: to) }
                }
            }
        }
    }

    /// A copy-on-write clone (FICLONE) of `from` at new file `to`; false where unsupported.
    static func reflink(from: String, to: String, mode: mode_t) -> Bool {
        let src = open(from, O_RDONLY | O_CLOEXEC)
        guard src >= 0 else { return false }
        defer { close(src) }
        var st = stat()
        guard fstat(src, &st) == 0, !ReflinkSupport.shared.knownUnsupported(device: UInt64(st.st_dev)) else { return false }
        let dst = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard dst >= 0 else { return false }
        let ficlone: UInt = 0x4004_9409
        let ok = ioctl(dst, ficlone, src) == 0
        let e = errno
        close(dst)
        if !ok {
            unlink(to)
            // The file system cannot clone (ext4): not asked again for each file of this process.
            if e == EOPNOTSUPP || e == ENOTTY || e == EINVAL { ReflinkSupport.shared.markUnsupported(device: UInt64(st.st_dev)) }
        }
        return ok
    }
}

/// The file systems (by device) found unable to clone files, so that a restore of many files
/// tries the clone once per file system, not once per file.
final class ReflinkSupport: @unchecked Sendable {
    // @unchecked: `unsupported` is read and written only under `lock`.
    static let shared = ReflinkSupport()
    private let lock = NSLock()
    private var unsupported = Set<UInt64>()

    func knownUnsupported(device: UInt64) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return unsupported.contains(device)
    }

    func markUnsupported(device: UInt64) {
        lock.lock(); unsupported.insert(device); lock.unlock()
    }
}
