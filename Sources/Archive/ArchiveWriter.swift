import CArchive

/// Writes a tar archive to a file, optionally through a compression filter.
/// Owns one `struct archive *` from `archive_write_new` and one reusable `struct archive_entry *`.
///
/// Call `close()` to flush and learn of a late write error; `deinit` closes silently.
/// Not thread-safe: one writer per thread.
public final class ArchiveWriter {
    /// The tar header format.
    public enum Format: Sendable {
        /// POSIX ustar (`archive_write_set_format_ustar`): 100+155-byte names, 8 GiB entries.
        case ustar
        /// pax restricted (`archive_write_set_format_pax_restricted`): ustar unless a field needs pax.
        case paxRestricted
    }

    /// The compression filter over the tar stream.
    public enum Filter: Sendable {
        case none
        /// LZ4 frame format (`archive_write_add_filter_lz4`), as written by the `lz4` CLI.
        case lz4(level: Int = 1)
    }

    private var handle: OpaquePointer?
    private var entry: OpaquePointer?
    private let path: String

    /// Creates (or truncates) `path` and starts an archive in it, writing `blockSize` bytes per
    /// write(2). The last block is not padded (`archive_write_set_bytes_in_last_block(a, 1)`), so
    /// the bytes written do not depend on `blockSize`: the archive ends with its two zero blocks.
    public init(path: String, format: Format = .ustar, filter: Filter = .none, blockSize: Int = 1 << 16) throws {
        self.path = path
        guard let a = archive_write_new() else {
            throw ArchiveError(status: ARCHIVE_FATAL, code: 12, message: "archive_write_new: out of memory")
        }
        handle = a
        entry = archive_entry_new()
        switch format {
        case .ustar:
            try check(archive_write_set_format_ustar(a), "set format ustar")
        case .paxRestricted:
            try check(archive_write_set_format_pax_restricted(a), "set format pax")
        }
        switch filter {
        case .none:
            try check(archive_write_add_filter_none(a), "add filter none")
        case .lz4(let level):
            try check(archive_write_add_filter_lz4(a), "add filter lz4")
            try check(archive_write_set_filter_option(a, "lz4", "compression-level", String(level)),
                      "set lz4 compression level")
        }
        try check(archive_write_set_bytes_per_block(a, Int32(clamping: blockSize)), "set block size")
        try check(archive_write_set_bytes_in_last_block(a, 1), "set last block size")
        try check(archive_write_open_filename(a, path), "open \(path)")
    }

    deinit {
        if let handle {
            archive_write_close(handle)
            archive_write_free(handle)
        }
        if let entry { archive_entry_free(entry) }
    }

    /// Writes one entry: its header, then `data` (whose count must equal `header.size`).
    public func write(_ header: EntryHeader, data: UnsafeRawBufferPointer) throws {
        guard let handle, let entry else { throw closedError() }
        guard Int64(data.count) == header.size else {
            throw ArchiveError(status: ARCHIVE_FAILED, code: -1,
                               message: "\(header.pathname): header says \(header.size) bytes, data has \(data.count)")
        }
        header.apply(to: entry)
        try check(archive_write_header(handle, entry), "write header of \(header.pathname)")
        var offset = 0
        while offset < data.count {
            // Never empty here, so its base address is never nil.
            let rest = UnsafeRawBufferPointer(rebasing: data[offset...])
            let n = archive_write_data(handle, rest.baseAddress, rest.count)
            if n <= 0 { throw lastError(handle, status: n < 0 ? Int32(n) : ARCHIVE_FATAL, context: "write data") }
            offset += n
        }
    }

    public func write(_ header: EntryHeader, data: [UInt8]) throws {
        try data.withUnsafeBytes { try write(header, data: $0) }
    }

    /// Writes the end-of-archive blocks, flushes the filter and closes the file
    /// (`archive_write_close`). Calling it again does nothing.
    public func close() throws {
        guard let handle else { return }
        self.handle = nil
        let status = archive_write_close(handle)
        let error = status == ARCHIVE_OK ? nil : lastError(handle, status: status, context: "close \(path)")
        archive_write_free(handle)
        if let error { throw error }
    }

    /// Throws for anything but `ARCHIVE_OK`: a warning while writing means a header was altered.
    private func check(_ status: Int32, _ context: String) throws {
        if status != ARCHIVE_OK { throw lastError(handle, status: status, context: context) }
    }

    private func closedError() -> ArchiveError {
        ArchiveError(status: ARCHIVE_FATAL, code: -1, message: "\(path): archive already closed")
    }
}
