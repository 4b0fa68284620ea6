import Foundation
import Glibc

/// The exclusive right to use one checkpoint directory (`cache/checkpoints/<key>/`): an flock on
/// `cache/checkpoints/<key>.lock`, beside the directory so that removing the directory leaves the
/// lock alone.
///
/// Two attempts at the same checkpointed step must never share the directory: a run whose flow
/// was killed may have a step still writing there for its grace period, and two workspaces on one
/// cache may start the same step. The runner takes the lock before the step starts, hands the
/// descriptor to the step's command through the supervisor (so the lock stays held while any of
/// the step's processes lives, even after flow itself has died), and closes its own copy only
/// after the result is committed and the directory removed. A lock that is held makes the step
/// wait.
public final class CheckpointLock {
    let fd: Int32
    let path: String

    /// Takes the lock without waiting; nil when another process holds it.
    public init?(checkpointDirectory: String) throws {
        path = checkpointDirectory + ".lock"
        let parent = (path as NSString).deletingLastPathComponent
        try FileIO.makeDirectories(parent)
        while true {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw SystemError("open checkpoint lock", path) }
            var locked = false
            while flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let e = errno
                if e == EINTR { continue }
                close(fd)
                if e == EWOULDBLOCK { return nil }
                throw SystemError("lock", path, errno: e)
            }
            locked = true
            // The holder before us may have removed the file after we opened it: a lock on a file
            // no longer at `path` excludes nobody. Open it again.
            var mine = stat(), there = stat()
            if locked, fstat(fd, &mine) == 0, stat(path, &there) == 0, mine.st_ino == there.st_ino, mine.st_dev == there.st_dev {
                self.fd = fd
                return
            }
            close(fd)
        }
    }

    /// Removes the lock file (after the checkpoint directory), still holding the lock.
    func removeFile() { unlink(path) }

    deinit { close(fd) }
}
