import CArchive

/// The type of a tar entry (the `AE_IF*` bits of `archive_entry_filetype`).
///
/// libarchive's `AE_IF*` constants are cast macros Swift cannot import; the values below are
/// the POSIX `S_IF*` bits they are defined as in `archive_entry.h`.
public struct FileType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let regular = FileType(rawValue: 0o100000)
    public static let directory = FileType(rawValue: 0o040000)
    public static let symbolicLink = FileType(rawValue: 0o120000)
    public static let socket = FileType(rawValue: 0o140000)
    public static let characterDevice = FileType(rawValue: 0o020000)
    public static let blockDevice = FileType(rawValue: 0o060000)
    public static let fifo = FileType(rawValue: 0o010000)

    public var description: String {
        switch self {
        case .regular: return "regular file"
        case .directory: return "directory"
        case .symbolicLink: return "symbolic link"
        case .socket: return "socket"
        case .characterDevice: return "character device"
        case .blockDevice: return "block device"
        case .fifo: return "fifo"
        default: return "file type 0o\(String(rawValue, radix: 8))"
        }
    }
}

/// The header of one archive entry, as read or to be written.
///
/// On read, `hardlinkTarget` is set for a hard link (whose `type` is usually `.regular` and
/// `size` 0) and `symlinkTarget` for a symbolic link.
public struct EntryHeader: Equatable, Sendable {
    public var pathname: String
    public var size: Int64
    public var type: FileType
    /// Permission bits only (e.g. 0o444), without the file type.
    public var permissions: UInt32
    /// Seconds since the epoch.
    public var modificationTime: Int64
    public var uid: Int64
    public var gid: Int64
    public var userName: String?
    public var groupName: String?
    public var hardlinkTarget: String?
    public var symlinkTarget: String?

    public init(pathname: String, size: Int64, type: FileType = .regular, permissions: UInt32 = 0o644,
                modificationTime: Int64 = 0, uid: Int64 = 0, gid: Int64 = 0,
                userName: String? = nil, groupName: String? = nil,
                hardlinkTarget: String? = nil, symlinkTarget: String? = nil) {
        self.pathname = pathname
        self.size = size
        self.type = type
        self.permissions = permissions
        self.modificationTime = modificationTime
        self.uid = uid
        self.gid = gid
        self.userName = userName
        self.groupName = groupName
        self.hardlinkTarget = hardlinkTarget
        self.symlinkTarget = symlinkTarget
    }

    /// Copies the fields of an entry libarchive owns (valid until the next header is read).
    init(borrowing entry: OpaquePointer) {
        func string(_ p: UnsafePointer<CChar>?) -> String? { p.map { String(cString: $0) } }
        // The raw bytes first: no locale conversion (slow, and lossy in the C locale). Names
        // libarchive holds only as UTF-8 (pax `path` records) come back nil there.
        pathname = string(archive_entry_pathname(entry)) ?? string(archive_entry_pathname_utf8(entry)) ?? ""
        size = archive_entry_size(entry)
        type = FileType(rawValue: UInt32(archive_entry_filetype(entry)))
        permissions = UInt32(archive_entry_perm(entry))
        modificationTime = Int64(archive_entry_mtime(entry))
        uid = archive_entry_uid(entry)
        gid = archive_entry_gid(entry)
        userName = string(archive_entry_uname(entry))
        groupName = string(archive_entry_gname(entry))
        hardlinkTarget = string(archive_entry_hardlink(entry))
        symlinkTarget = string(archive_entry_symlink(entry))
    }

    /// Fills a libarchive entry (`archive_entry_set_*`) from this header.
    func apply(to entry: OpaquePointer) {
        archive_entry_clear(entry)
        // The plain (multibyte) setters: in the C locale Swift programs run in, libarchive passes
        // these bytes through unchanged, so UTF-8 names are stored as UTF-8.
        archive_entry_set_pathname(entry, pathname)
        archive_entry_set_size(entry, size)
        archive_entry_set_filetype(entry, type.rawValue)
        archive_entry_set_perm(entry, permissions)
        archive_entry_set_mtime(entry, time_t(modificationTime), 0)
        archive_entry_set_uid(entry, uid)
        archive_entry_set_gid(entry, gid)
        if let userName { archive_entry_set_uname(entry, userName) }
        if let groupName { archive_entry_set_gname(entry, groupName) }
        if let hardlinkTarget { archive_entry_set_hardlink(entry, hardlinkTarget) }
        if let symlinkTarget { archive_entry_set_symlink(entry, symlinkTarget) }
    }
}
