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
    private let fd: Int32

    /// Maps `path`. With `populate`, the kernel reads the whole file into the mapping up front
    /// (MAP_POPULATE on Linux): faster when every byte will be touched, as when copying a whole
    /// array out; leave it off to page in on demand.
    public init(path: String, populate: Bool = false) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FormatError(path: path, message: "cannot open: \(MappedFile.errnoText())") }
        var ok = false
        defer { if !ok { close(fd) } }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw FormatError(path: path, message: "cannot stat: \(MappedFile.errnoText())")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw FormatError(path: path, message: "not a regular file")
        }
        count = Int(st.st_size)
        self.fd = fd
        if count == 0 {
            base = nil
            ok = true
            return
        }
        var flags = MAP_PRIVATE
        #if os(Linux)
        if populate { flags |= MAP_POPULATE }
        #endif
        guard let p = mmap(nil, count, PROT_READ, flags, fd, 0), p != MAP_FAILED else {
            throw FormatError(path: path, message: "cannot map \(count) bytes: \(MappedFile.errnoText())")
        }
        base = p
        ok = true
    }

    deinit {
        if let base { munmap(base, count) }
        close(fd)
    }

    /// Copies `range` of the file into a new array with pread(2): for bulk copies this is about
    /// twice as fast as copying out of the mapping, which takes a page fault per 4 KiB.
    public func copyBytes(_ range: Range<Int>) throws -> [UInt8] {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "range outside the file")
        var failure: Int32 = 0
        let out = [UInt8](unsafeUninitializedCapacity: range.count) { buffer, initialized in
            var done = 0
            while done < range.count {
                // Never empty here, so its base address is never nil.
                let rest = UnsafeMutableBufferPointer(rebasing: buffer[done..<range.count])
                let n = pread(fd, rest.baseAddress, rest.count, off_t(range.lowerBound + done))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { failure = n == 0 ? EIO : errno; break }
                done += n
            }
            if done < range.count { UnsafeMutableBufferPointer(rebasing: buffer[done..<range.count]).initialize(repeating: 0) }
            initialized = range.count
        }
        if failure != 0 {
            throw FormatError(path: path, message: "read of bytes \(range.lowerBound)..<\(range.upperBound) failed: \(String(cString: strerror(failure)))")
        }
        return out
    }

    /// Lends the file's bytes to `body`; the pointer must not escape it.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: base == nil ? 0 : count))
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
