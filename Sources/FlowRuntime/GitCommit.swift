import Foundation

/// The git commit checked out in a workspace, read from `.git` directly (no git process: a
/// no-op run pays a few small reads), so that each run records the commit it ran at and
/// `flow metrics diff --rev REV` can find the results recorded at a revision.
public enum GitCommit {
    /// The full hash of HEAD in the repository holding `directory` (it or a parent), or nil when
    /// there is none or it cannot be read (an unborn branch, an unusual layout).
    public static func checkedOut(in directory: String) -> String? {
        var dir = URL(fileURLWithPath: directory).standardizedFileURL
        for _ in 0..<64 {
            if let gitDir = gitDirectory(at: dir.path) { return head(gitDir) }
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path { return nil }
            dir = parent
        }
        return nil
    }

    /// `.git` at `path`: a directory, or a file `gitdir: DIR` (a worktree or submodule).
    static func gitDirectory(at path: String) -> String? {
        let dotGit = path + "/.git"
        guard let st = FileStat.of(dotGit) else { return nil }
        if st.isDirectory { return dotGit }
        guard let text = read(dotGit), text.hasPrefix("gitdir: ") else { return nil }
        let target = String(text.dropFirst(8))
        return target.hasPrefix("/") ? target : path + "/" + target
    }

    static func head(_ gitDir: String) -> String? {
        guard let head = read(gitDir + "/HEAD") else { return nil }
        guard head.hasPrefix("ref: ") else { return isHash(head) ? head : nil }
        let ref = String(head.dropFirst(5))
        // A worktree keeps its HEAD but shares the refs of the main repository.
        let common = read(gitDir + "/commondir").map { $0.hasPrefix("/") ? $0 : gitDir + "/" + $0 } ?? gitDir
        for base in [gitDir, common] {
            if let hash = read(base + "/" + ref), isHash(hash) { return hash }
        }
        // Packed refs: lines "HASH REF".
        for line in (read(common + "/packed-refs") ?? "").split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, fields[1] == ref, isHash(String(fields[0])) { return String(fields[0]) }
        }
        return nil
    }

    static func read(_ path: String) -> String? {
        guard let bytes = try? FileIO.readAll(path, sizeHint: 256) else { return nil }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func isHash(_ s: String) -> Bool {
        (s.count == 40 || s.count == 64) && s.allSatisfy { $0.isHexDigit }
    }
}
