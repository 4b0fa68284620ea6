import FlowCore
import XXHash

// A manifest comes from the cache, which other users, machines and CI jobs can write to: it is
// untrusted input. Nothing in it becomes a path or a digest before it passes these checks, so a
// doctored manifest can at worst make its own step run again, never write outside the step's
// declared outputs.
extension Manifest {
    /// What is wrong with the manifest on its own (without knowing its step): a path that is
    /// absolute, not normalised, leaves its directory or names flow's own state, a digest that is
    /// not 32 hex digits, a negative size, inline bytes that do not decode to their size and
    /// digest. Nil when it is sound.
    public var structuralProblem: String? {
        guard Digest128(hex: key) != nil else { return "its key '\(key)' is not a digest" }
        if let log, Digest128(hex: log) == nil { return "its log digest '\(log)' is not a digest" }
        for out in outputs {
            if let p = Manifest.pathProblem(out.path) { return "output '\(out.path)' \(p)" }
            if WorkspacePath.isReserved(out.path) { return "output '\(out.path)' is inside flow's own state" }
            guard Digest128(hex: out.digest) != nil else { return "output '\(out.path)' has an invalid digest '\(out.digest)'" }
            guard out.size >= 0 else { return "output '\(out.path)' has a negative size" }
            guard let entries = out.entries else { continue }
            var seen = Set<String>()
            let all = Set(entries.map(\.path))
            var tree: [ContentHash.TreeEntry] = []
            for e in entries {
                // `a` and `a/b` cannot both be files.
                if WorkspacePath.hasAncestor(e.path, in: all) { return "entry '\(e.path)' of '\(out.path)' lies inside another entry, a file" }
                if let d = Digest128(hex: e.digest) { tree.append(ContentHash.TreeEntry(path: e.path, digest: d, size: e.size, executable: e.executable)) }
                if let p = Manifest.pathProblem(e.path) { return "entry '\(e.path)' of '\(out.path)' \(p)" }
                guard Digest128(hex: e.digest) != nil else { return "entry '\(e.path)' of '\(out.path)' has an invalid digest '\(e.digest)'" }
                guard e.size >= 0 else { return "entry '\(e.path)' of '\(out.path)' has a negative size" }
                guard seen.insert(e.path).inserted else { return "entry '\(e.path)' of '\(out.path)' appears twice" }
            }
            guard ContentHash.tree(tree).hex == out.digest else { return "directory '\(out.path)' has a digest that its entries do not give" }
        }
        return inlineProblem
    }

    /// `structuralProblem`, and outputs that are not exactly the step's declared outputs (each
    /// once, a file as a file and a directory as a directory).
    public func problem(declared: [PathRef]) -> String? {
        if let p = structuralProblem { return p }
        var expected: [String: Bool] = [:]
        for d in declared { expected[d.path] = d.isDirectory }
        var seen = Set<String>()
        for out in outputs {
            guard let isDirectory = expected[out.path] else { return "output '\(out.path)' is not a declared output of its step" }
            // A declared file output may legitimately be a directory the step made (`out x` then `mkdir x`).
            if isDirectory && !out.isDirectory { return "output '\(out.path)' is a file where the step declares a directory" }
            guard seen.insert(out.path).inserted else { return "output '\(out.path)' appears twice" }
        }
        if seen.count != expected.count { return "it lacks declared outputs" }
        return nil
    }

    /// Why a relative path from a manifest is not usable as is; nil when it is.
    static func pathProblem(_ path: String) -> String? {
        if path.isEmpty { return "is empty" }
        if path.utf8.contains(0) || path.contains("\n") { return "contains a control character" }
        guard WorkspacePath.normalize(path) == path else { return "is absolute or not normalised (it could leave the workspace)" }
        return nil
    }
}

/// A manifest in the cache that failed `Manifest.problem`: it is removed and its step runs again.
public struct CorruptManifestError: Error, CustomStringConvertible {
    public var key: Digest128
    public var reason: String
    public var description: String {
        "cache manifest \(key.short) is corrupt or unsafe (\(reason)); it was removed and the step runs again"
    }
}
