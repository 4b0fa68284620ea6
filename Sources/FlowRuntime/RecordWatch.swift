import Foundation
import Glibc

/// Wakes the Slurm executor the moment a completion record appears in its jobs directory
/// (inotify), so that a job's end is noticed at once rather than at the next poll of squeue.
/// `flow exec` writes a record by renaming it into place, which inotify reports as a move.
/// Where inotify does not see a write (another machine writing over NFS), the poll still finds
/// the record: the watch only makes the common case fast.
final class RecordWatch {
    private let fd: Int32

    init?(directory: String) {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { return nil }
        guard inotify_add_watch(fd, directory, UInt32(IN_MOVED_TO | IN_CLOSE_WRITE)) >= 0 else {
            close(fd)
            return nil
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Waits up to `seconds` for a file to arrive in the directory; true when one did.
    func wait(seconds: Double) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&p, 1, Int32(max(0, min(seconds, 3600)) * 1000))
        guard ready > 0 else { return false }
        // Drain the events: which file arrived does not matter, the records are read anyway.
        var buffer = [UInt8](repeating: 0, count: 4096)
        while buffer.withUnsafeMutableBytes({ read(fd, $0.baseAddress, $0.count) }) > 0 {}
        return true
    }
}
