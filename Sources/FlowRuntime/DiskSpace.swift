import Glibc

/// The free space of the file system that holds a path (`statvfs`), to say "the disk is full"
/// where a failure does not: a step that dies for want of space rarely says so clearly, and
/// SQLite reports some writes to a full disk as mere I/O errors.
public enum DiskSpace {
    /// True when the file system holding `path` (or, while it does not exist, the nearest
    /// directory above it) has almost no space left for an ordinary user: less than 1 MiB, or
    /// less than a thousandth of its size. False where it cannot be told.
    public static func isFull(_ path: String) -> Bool {
        var p = path
        var st = statvfs()
        while statvfs(p, &st) != 0 {
            guard errno == ENOENT || errno == ENOTDIR, let slash = p.lastIndex(of: "/") else { return false }
            p = slash == p.startIndex ? "/" : String(p[..<slash])
        }
        let unit = UInt64(st.f_frsize)
        let available = UInt64(st.f_bavail) * unit
        let size = UInt64(st.f_blocks) * unit
        return size > 0 && available < max(1 << 20, size / 1000)
    }
}
