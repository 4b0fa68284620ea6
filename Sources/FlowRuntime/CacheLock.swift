import Foundation
import Glibc

/// Coordinates what adds to a cache with what removes from it, across every process and
/// workspace that shares the cache: an flock on `cache/lock`.
///
/// A commit (objects, then the manifest that names them) and a restore hold it shared, so any
/// number of them go on at once; `flow gc` holds it exclusively while it decides what is live and
/// deletes the rest, so it never deletes an object that a manifest being written will name, nor
/// one a restore is reading. The kernel releases the lock of a process that dies, however it
/// dies. Where flock does not work (some network file systems), the lock is skipped: gc is then
/// safe only when nothing runs, as it was before this lock existed.
public final class CacheLock {
    let fd: Int32

    public init(cacheRoot: String) {
        fd = open(cacheRoot + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Runs `body` holding the lock shared (commits and restores).
    public func shared<T>(_ body: () throws -> T) rethrows -> T {
        let locked = take(LOCK_SH)
        defer { if locked { flock(fd, LOCK_UN) } }
        return try body()
    }

    /// Runs `body` holding the lock exclusively (gc), waiting for commits and restores in progress.
    public func exclusive<T>(_ body: () throws -> T) rethrows -> T {
        let locked = take(LOCK_EX)
        defer { if locked { flock(fd, LOCK_UN) } }
        return try body()
    }

    func take(_ operation: Int32) -> Bool {
        guard fd >= 0 else { return false }
        while flock(fd, operation) != 0 {
            if errno != EINTR { return false }
        }
        return true
    }
}

/// Names of temporary files that say who made them, so that leftovers of processes that died
/// (kill -9 in the middle of a write) can be told from files a live process is writing:
/// `<host>_<pid namespace>-<pid>-<random>`.
public enum TemporaryName {
    /// The host name and the process-id namespace: a pid means the same process only where both
    /// match (containers may share a host name but not their pids).
    static let host: String = {
        let name = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = readlink("/proc/self/ns/pid", &buffer, buffer.count - 1)
        let namespace = n > 0 ? String(decoding: buffer.prefix(n), as: UTF8.self).filter(\.isNumber) : "0"
        return String(name.map { $0.isLetter || $0.isNumber ? $0 : "_" }) + "_" + namespace
    }()

    /// A fresh name for this process.
    public static func make() -> String {
        "\(host)-\(getpid())-\(UInt64.random(in: 0 ... .max))"
    }

    /// Removes the entries of `directory` that a dead process of this host made, and those of any
    /// host (or of an older flow, whose names do not say) older than `maxAge` seconds. Returns how
    /// many were removed. Where not every entry is a temporary, `isTemporary` says which are.
    @discardableResult
    public static func removeLeftovers(in directory: String, maxAge: Double = 86400,
                                       where isTemporary: (String) -> Bool = { _ in true }) -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return 0 }
        var removed = 0
        let now = Date().timeIntervalSince1970
        for name in names where isTemporary(name) {
            let path = directory + "/" + name
            var dead = false
            let parts = name.split(separator: "-")
            // A process of this host and pid namespace that no longer exists.
            if parts.count >= 3, parts[parts.count - 3] == host, let pid = Int32(parts[parts.count - 2]) {
                dead = pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH
            }
            if !dead, let st = FileStat.of(path, followLinks: false), Double(st.mtimeNs) / 1e9 < now - maxAge { dead = true }
            if dead, (try? FileManager.default.removeItem(atPath: path)) != nil { removed += 1 }
        }
        return removed
    }
}
