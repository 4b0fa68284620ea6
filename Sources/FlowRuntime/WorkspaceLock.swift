import Foundation
import Glibc

/// One `flow run` per workspace at a time: an exclusive `flock` on `.flow/lock`, which the
/// kernel releases when the holder dies, however it dies, so no stale lock is ever left behind.
/// The holder's pid and command line are written beside it, for the message others get.
public final class WorkspaceLock {
    let fd: Int32
    let path: String

    public struct Held: Error, CustomStringConvertible {
        public var holder: String
        public var description: String {
            "another flow run holds this workspace (\(holder)); wait for it, or pass --wait"
        }
    }

    /// Takes the lock; waits for it when `wait`, else throws `Held` naming the holder.
    public init(stateDirectory: String, wait: Bool) throws {
        try FileIO.makeDirectories(stateDirectory)
        path = stateDirectory + "/lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemError("open lock file", path) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK else {
                let e = errno
                close(fd)
                throw SystemError("lock", path, errno: e)
            }
            if !wait {
                let holder = WorkspaceLock.holder(stateDirectory: stateDirectory)
                close(fd)
                throw Held(holder: holder)
            }
            while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        }
        let info = "pid \(getpid()): \(CommandLine.arguments.joined(separator: " "))\n"
        _ = ftruncate(fd, 0)
        _ = info.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    deinit {
        _ = ftruncate(fd, 0)
        flock(fd, LOCK_UN)
        close(fd)
    }

    /// The holder's description, as it wrote it.
    public static func holder(stateDirectory: String) -> String {
        let text = (try? String(contentsOfFile: stateDirectory + "/lock", encoding: .utf8)) ?? ""
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return t.isEmpty ? "unknown process" : t
    }

    /// True when some process holds the lock now (for `flow status` to show a live run).
    public static func isHeld(stateDirectory: String) -> Bool {
        let fd = open(stateDirectory + "/lock", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return false
        }
        return true
    }
}
