#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory (`mmap(2)` with `PROT_READ`, `MAP_PRIVATE`).
///
/// Readers of large arrays use it so that a multi-gigabyte embedding file is paged in on demand
/// instead of being read through a buffer. An empty file maps to an empty buffer (mmap refuses
/// zero-length maps). Lend the bytes only inside `withBytes`; they are unmapped on deinit.
/// If another process truncates the file while it is mapped, touching the lost pages raises
/// SIGBUS: flow writes its files by rename, so a file it is reading is never truncated in place.
public final class MappedFile {
    public let path: String
    /// The file size in bytes when it was mapped.
    public let count: Int
    private let base: UnsafeMutableRawPointer?

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FormatError(path: path, message: "cannot open: \(MappedFile.errnoText())") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw FormatError(path: path, message: "cannot stat: \(MappedFile.errnoText())")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw FormatError(path: path, message: "not a regular file")
        }
        count = Int(st.st_size)
        if count == 0 {
            base = nil
            return
        }
        guard let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw FormatError(path: path, message: "cannot map \(count) bytes: \(MappedFile.errnoText())")
        }
        base = p
    }

    deinit {
        if let base { munmap(base, count) }
    }

    /// Lends the file's bytes to `body`; the pointer must not escape it.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: base == nil ? 0 : count))
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
