#if canImport(Glibc)
import Glibc
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
import Darwin
private let systemWrite = Darwin.write
#endif

/// A file written under a temporary name beside its destination and renamed into place by
/// `commit()`, so that readers never see a half-written array. Dropped without `commit()`,
/// the temporary file is removed. Sequential writes are buffered (1 MiB); `write(_:at:)`
/// writes at an absolute offset (for patching a header or filling tensors out of order).
/// No fsync: the rename is atomic against concurrent readers, not against power loss.
final class AtomicOutputFile {
    let path: String
    let temporaryPath: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var committed = false
    /// Bytes written sequentially so far (including those still buffered).
    private(set) var offset = 0

    private static let bufferLimit = 1 << 20

    init(path: String) throws {
        self.path = path
        var suffix = UInt64.random(in: 0..<UInt64.max)
        var name = ""
        for _ in 0..<6 {
            name = "\(path).tmp-\(getpid())-\(String(suffix, radix: 36))"
            let fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if fd >= 0 {
                self.fd = fd
                temporaryPath = name
                buffer.reserveCapacity(Self.bufferLimit)
                return
            }
            if errno != EEXIST { break }
            suffix = UInt64.random(in: 0..<UInt64.max)
        }
        throw FormatError(path: path, message: "cannot create \(name): \(MappedFile.errnoText())")
    }

    deinit {
        if !committed {
            if fd >= 0 { close(fd) }
            unlink(temporaryPath)
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        if buffer.count + bytes.count > Self.bufferLimit { try flush() }
        if bytes.count >= Self.bufferLimit {
            try writeAll(bytes, at: nil)
        } else {
            buffer.append(contentsOf: bytes)
        }
        offset += bytes.count
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Writes at an absolute position without moving the sequential offset.
    func write(_ bytes: UnsafeRawBufferPointer, at position: Int) throws {
        try flush()
        try writeAll(bytes, at: position)
    }

    /// Sets the file length (the unwritten part reads as zeros).
    func truncate(to length: Int) throws {
        try flush()
        if ftruncate(fd, off_t(length)) != 0 {
            throw FormatError(path: path, message: "cannot size to \(length) bytes: \(MappedFile.errnoText())")
        }
    }

    /// Flushes, closes and renames the temporary file onto `path`.
    func commit() throws {
        try flush()
        let rc = close(fd)
        fd = -1
        if rc != 0 { throw FormatError(path: path, message: "close failed: \(MappedFile.errnoText())") }
        if rename(temporaryPath, path) != 0 {
            throw FormatError(path: path, message: "cannot rename \(temporaryPath) into place: \(MappedFile.errnoText())")
        }
        committed = true
    }

    private func flush() throws {
        if buffer.isEmpty { return }
        try buffer.withUnsafeBytes { try writeAll($0, at: nil) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer, at position: Int?) throws {
        var done = 0
        while done < bytes.count {
            // Never empty here, so its base address is never nil.
            let rest = UnsafeRawBufferPointer(rebasing: bytes[done...])
            let n = position.map { pwrite(fd, rest.baseAddress, rest.count, off_t($0 + done)) }
                ?? systemWrite(fd, rest.baseAddress, rest.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw FormatError(path: path, message: "write failed after \(done) bytes: \(MappedFile.errnoText())")
            }
            done += n
        }
    }
}
