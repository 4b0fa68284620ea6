import CArchive

/// Reads a tar archive entry by entry, streaming from a file through any compression filter
/// libarchive detects (lz4, gzip, zstd, ...). Owns one `struct archive *` from `archive_read_new`.
///
/// Memory stays bounded by the block size and the entry being read: the archive is never
/// loaded whole. Not thread-safe: one reader per thread.
public final class ArchiveReader {
    private var handle: OpaquePointer?
    private let path: String
    /// Where the current entry's header starts in the (decompressed) tar stream.
    public private(set) var headerOffset: Int64 = 0
    /// The size the current entry's header declared.
    public private(set) var currentSize: Int64 = 0

    /// Opens `path`, reading `blockSize` bytes at a time.
    public init(path: String, blockSize: Int = 1 << 17) throws {
        self.path = path
        guard let a = archive_read_new() else {
            throw ArchiveError(status: ARCHIVE_FATAL, code: 12, message: "archive_read_new: out of memory")
        }
        handle = a
        try check(archive_read_support_filter_all(a), "support filters")
        try check(archive_read_support_format_tar(a), "support tar")
        try check(archive_read_open_filename(a, path, blockSize), "open \(path)")
    }

    deinit {
        if let handle { archive_read_free(handle) }
    }

    /// The next entry's header, or nil at the end of the archive (`archive_read_next_header`).
    /// Unread data of the previous entry is skipped.
    public func nextHeader() throws -> EntryHeader? {
        guard let handle else { return nil }
        var entry: OpaquePointer?
        let status = archive_read_next_header(handle, &entry)
        if status == ARCHIVE_EOF { return nil }
        // ARCHIVE_WARN (say, a name not convertible to the locale) still yields a usable entry;
        // ARCHIVE_RETRY (a bad header checksum: "Damaged tar archive") does not.
        if status != ARCHIVE_OK && status != ARCHIVE_WARN { throw lastError(handle, status: status, context: "read header") }
        guard let entry else { throw lastError(handle, status: ARCHIVE_FATAL, context: "read header") }
        headerOffset = archive_read_header_position(handle)
        let header = EntryHeader(borrowing: entry)
        currentSize = header.size
        return header
    }

    /// Reads the rest of the current entry's data into `buffer`; returns the bytes read
    /// (0 at the end of the entry).
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let handle else { return 0 }
        let n = archive_read_data(handle, buffer.baseAddress, buffer.count)
        if n < 0 { throw lastError(handle, status: Int32(n), context: "read data") }
        return n
    }

    /// Reads the current entry's data whole. Throws if the archive ends before `size` bytes.
    /// Memory grows with the bytes actually read, so a damaged header claiming gigabytes
    /// cannot make it allocate them up front.
    public func readData() throws -> [UInt8] {
        guard currentSize >= 0, currentSize <= Int64(Int.max) else {
            throw ArchiveError(status: ARCHIVE_FATAL, code: ArchiveError.fileFormatCode,
                               message: "entry size \(currentSize) is not valid")
        }
        let size = Int(currentSize)
        let firstPiece = min(size, 1 << 26)
        var failure: Error?
        var bytes = [UInt8](unsafeUninitializedCapacity: firstPiece) { buffer, count in
            count = fill(UnsafeMutableRawBufferPointer(buffer), failure: &failure)
        }
        while failure == nil, bytes.count < size {
            let before = bytes.count
            let piece = min(size - before, 1 << 24)
            bytes.append(contentsOf: repeatElement(0, count: piece))
            let got = bytes.withUnsafeMutableBytes { all in
                fill(UnsafeMutableRawBufferPointer(rebasing: all[before...]), failure: &failure)
            }
            bytes.removeLast(piece - got)
            if got < piece { break }
        }
        if let failure { throw failure }
        guard bytes.count == size else {
            throw ArchiveError(status: ARCHIVE_FATAL, code: ArchiveError.fileFormatCode,
                               message: "Truncated tar archive: entry data ends after \(bytes.count) of \(size) bytes")
        }
        return bytes
    }

    /// Reads until `buffer` is full or the entry ends; returns the bytes read.
    private func fill(_ buffer: UnsafeMutableRawBufferPointer, failure: inout Error?) -> Int {
        var filled = 0
        do {
            while filled < buffer.count {
                let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
                if n == 0 { break }
                filled += n
            }
        } catch { failure = error }
        return filled
    }

    /// Skips the current entry's data (`archive_read_data_skip`).
    public func skipData() throws {
        guard let handle else { return }
        try check(archive_read_data_skip(handle), "skip data")
    }

    /// The name of the outermost filter ("lz4", "none", ...) once the first header is read.
    public var filterName: String {
        archive_filter_name(handle, 0).map { String(cString: $0) } ?? "none"
    }

    /// The archive format's name ("POSIX ustar format", "GNU tar format", ...).
    public var formatName: String {
        archive_format_name(handle).map { String(cString: $0) } ?? "unknown"
    }

    /// Closes the file; calling it again does nothing.
    public func close() {
        guard let handle else { return }
        self.handle = nil
        archive_read_free(handle)
    }

    private func check(_ status: Int32, _ context: String) throws {
        if status < ARCHIVE_WARN { throw lastError(handle, status: status, context: context) }
    }
}
