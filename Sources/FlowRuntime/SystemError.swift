import Glibc

/// A failed system call on a path: what was attempted, the path, and `strerror`'s text.
/// Messages name the file and, for the usual causes (disk full, permissions), what to do.
public struct SystemError: Error, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var errno: Int32

    public init(_ operation: String, _ path: String, errno: Int32 = Glibc.errno) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String {
        var s = "cannot \(operation) '\(path)': \(String(cString: strerror(errno)))"
        switch errno {
        case ENOSPC, EDQUOT: s += " (free some space, e.g. `flow gc`, or use another cache with --cache)"
        case EACCES, EPERM: s += " (check the permissions of this path)"
        case EROFS: s += " (the file system is read-only: make it writable, or if it holds the cache, use --cache to point to a writable one)"
        case ENOTDIR: s += " (a file stands where a directory must be: move it away)"
        case ENAMETOOLONG: s += " (the name is too long for the file system: shorten the step or path name)"
        default: break
        }
        return s
    }

    public var isDiskFull: Bool { errno == ENOSPC || errno == EDQUOT }
}

/// Retries a system call interrupted by a signal (EINTR); throws SystemError on any other failure.
@discardableResult
func retrying<T: BinaryInteger>(_ operation: String, _ path: String, _ call: () -> T) throws -> T {
    while true {
        let rc = call()
        if rc >= 0 { return rc }
        if Glibc.errno != EINTR { throw SystemError(operation, path) }
    }
}
