import CArchive

/// An error from libarchive: the status a call returned, `archive_errno` and `archive_error_string`.
///
/// `status` is one of libarchive's return codes (`ARCHIVE_WARN` -20, `ARCHIVE_FAILED` -25,
/// `ARCHIVE_FATAL` -30); `code` is an errno value where libarchive has one (`ENOENT` for a
/// missing file) and `ARCHIVE_ERRNO_MISC` (-1) or `ARCHIVE_ERRNO_FILE_FORMAT` (84) otherwise.
/// Switch on `status` and `code`, never on the text.
public struct ArchiveError: Error, CustomStringConvertible, Equatable {
    public var status: Int32
    public var code: Int32
    public var message: String

    public init(status: Int32, code: Int32, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// `ARCHIVE_ERRNO_FILE_FORMAT`: libarchive's code for a damaged or unrecognised archive.
    public static let fileFormatCode: Int32 = 84

    /// True when the archive handle is unusable after this error (`ARCHIVE_FATAL`).
    public var isFatal: Bool { status <= ARCHIVE_FATAL }

    public var description: String { "libarchive: \(message) (status \(status), errno \(code))" }
}

/// Reads the pending error off `handle`, with a fallback text when libarchive set none.
func lastError(_ handle: OpaquePointer?, status: Int32, context: String) -> ArchiveError {
    let text = archive_error_string(handle).map { String(cString: $0) } ?? "\(context) failed"
    return ArchiveError(status: status, code: archive_errno(handle), message: text)
}
