import Glibc

/// The parts of `stat(2)` that tell whether a file may have changed since it was hashed.
/// Equal signatures mean "same content, no need to read it again"; content, never mtime, decides
/// staleness: a differing signature only means "hash it again".
public struct FileStat: Equatable, Sendable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    public var mtimeNs: Int64
    public var ctimeNs: Int64
    public var mode: UInt32

    public var isDirectory: Bool { mode & S_IFMT == S_IFDIR }
    public var isRegular: Bool { mode & S_IFMT == S_IFREG }
    public var isSymlink: Bool { mode & S_IFMT == S_IFLNK }
    /// The permission bits that enter a directory's Merkle hash: only "executable or not".
    public var isExecutable: Bool { mode & 0o111 != 0 }

    /// Same file, same size, same times: the content is taken to be unchanged. (The mode is not
    /// compared: a chmod does not change content, and ctime catches it anyway.)
    public func sameSignature(_ other: FileStat) -> Bool {
        device == other.device && inode == other.inode && size == other.size && mtimeNs == other.mtimeNs && ctimeNs == other.ctimeNs
    }

    /// The same file with the same content as far as a write can tell: the signature without the
    /// ctime, which a new hard link to the same inode changes (a `--link hardlink` restore of an
    /// identical output elsewhere) while nothing was written.
    public func sameContentSignature(_ other: FileStat) -> Bool {
        device == other.device && inode == other.inode && size == other.size && mtimeNs == other.mtimeNs
    }

    /// `stat` (following links); nil when the path does not exist.
    public static func of(_ path: String, followLinks: Bool = true) -> FileStat? {
        var st = stat()
        let rc = followLinks ? stat(path, &st) : lstat(path, &st)
        guard rc == 0 else { return nil }
        return FileStat(st)
    }

    public init(device: UInt64, inode: UInt64, size: Int64, mtimeNs: Int64, ctimeNs: Int64, mode: UInt32) {
        self.device = device
        self.inode = inode
        self.size = size
        self.mtimeNs = mtimeNs
        self.ctimeNs = ctimeNs
        self.mode = mode
    }

    init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        size = Int64(st.st_size)
        mtimeNs = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        ctimeNs = Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec)
        mode = UInt32(st.st_mode)
    }
}
