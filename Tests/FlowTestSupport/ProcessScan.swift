import Foundation

/// Looks at the processes of this machine through /proc.
public enum ProcessScan {
    /// Pids of processes whose working directory is `directory` (or inside it).
    public static func pids(inDirectory directory: String) -> [Int32] {
        // /proc shows resolved paths: resolve ours too ("//", symbolic links).
        var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let directory = realpath(directory, &resolved) != nil ? String(cString: resolved) : directory
        let me = getpid()
        var result: [Int32] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), pid != me,
                  let cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/cwd") else { continue }
            if cwd == directory || cwd.hasPrefix(directory + "/") { result.append(pid) }
        }
        return result
    }

    /// Pids of the children of `parent` whose command name (/proc/PID/comm, at most 15
    /// characters) is `name`.
    public static func children(of parent: Int32, named name: String) -> [Int32] {
        var result: [Int32] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { continue }
            // "pid (comm) state ppid ..."
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if String(stat[stat.index(after: open)..<close]) == name, fields.count > 1, Int32(fields[1]) == parent {
                result.append(pid)
            }
        }
        return result
    }
}
