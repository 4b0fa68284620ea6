import Foundation
import Glibc

/// A step's log in `.flow/logs/<run>/`, as readers must take it.
///
/// The local executor's supervisor creates a log on the step's first byte of output, so a step
/// that printed nothing, or a running step that has printed nothing yet, has no file. A missing
/// file in a run directory that exists is therefore an empty log; only when the directory is
/// gone too (the user removed the run's logs) is there no log at all. A Slurm job's log is
/// created before the job starts, and reads the same way.
public enum StepLog {
    /// Whether the log at `path` can be read: the file, or else its run's directory, exists.
    public static func exists(_ path: String) -> Bool {
        FileStat.of(path) != nil || FileStat.of((path as NSString).deletingLastPathComponent)?.isDirectory == true
    }

    /// The whole log, empty when the step printed nothing; nil when it cannot be read.
    public static func contents(_ path: String) -> [UInt8]? {
        if let bytes = try? FileIO.readAll(path, sizeHint: 0) { return bytes }
        return FileStat.of(path) == nil && exists(path) ? [] : nil
    }

    /// The last `limit` bytes of the log (all of it when shorter): what a tail shows, read
    /// without reading a log of any length whole. Empty when there is no file.
    public static func suffix(_ path: String, limit: Int) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return [] }
        let start = max(0, Int(st.st_size) - limit)
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size) - start)
        var have = 0
        while have < bytes.count {
            let n = bytes.withUnsafeMutableBytes { buffer in
                let rest = UnsafeMutableRawBufferPointer(rebasing: buffer[have...])
                return pread(fd, rest.baseAddress, rest.count, off_t(start + have))
            }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            have += n
        }
        return Array(bytes.prefix(have))
    }

    /// The last `lines` lines of the log, read from its last 64 KiB.
    public static func tail(_ path: String, lines: Int) -> [String] {
        let text = String(decoding: suffix(path, limit: 64 << 10), as: UTF8.self)
        var all = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if all.last == "" { all.removeLast() }
        return Array(all.suffix(lines))
    }
}
