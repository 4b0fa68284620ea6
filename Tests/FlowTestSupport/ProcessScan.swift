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
}
