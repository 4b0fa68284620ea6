import FlowCore

/// A workspace of in-memory files, for loader tests that need no disk.
public final class InMemoryWorkspace: WorkspaceView {
    public var files: [String: String]
    /// Symbolic links, by path: each leads to a workspace-relative path or, when absolute,
    /// outside the workspace.
    public var links: [String: String] = [:]

    public init(_ files: [String: String] = [:]) {
        self.files = files
    }

    public struct Missing: Error, CustomStringConvertible {
        public var description = "No such file or directory"
    }

    public func readText(_ path: String) throws -> String {
        guard let text = realPath(path).flatMap({ files[$0] }) else { throw Missing() }
        return text
    }

    public func kind(of path: String) -> PathKind {
        if files[path] != nil { return .file }
        return files.keys.contains { $0.hasPrefix(path + "/") } ? .directory : .missing
    }

    public func realPath(_ path: String) -> String? {
        var resolved = path
        // A link in a link: follow again, a bounded number of times (as the kernel does).
        for _ in 0..<40 {
            let parts = resolved.split(separator: "/").map(String.init)
            guard let i = parts.indices.first(where: { links[parts[...$0].joined(separator: "/")] != nil }) else { return resolved }
            let target = links[parts[...i].joined(separator: "/")]!
            let rest = parts[(i + 1)...].joined(separator: "/")
            resolved = rest.isEmpty ? target : target + "/" + rest
            if target.hasPrefix("/") { return resolved }
        }
        return nil
    }

    public func glob(_ pattern: String) -> [String] {
        files.keys.filter { WorkspacePath.matches($0, pattern: pattern) }.sorted()
    }
}

/// An op catalog with a few fake ops: `embed` (version 3, options --model --shards --out) and
/// `synth-images` (version 1, options --count --seed --out).
public struct FakeOps: OpCatalog {
    public init() {}
    let ops: [String: (Int, Set<String>)] = [
        "embed": (3, ["--model", "--shards", "--out"]),
        "synth-images": (1, ["--count", "--seed", "--out"]),
    ]
    public var opNames: [String] { ops.keys.sorted() }
    public func version(of op: String) -> Int? { ops[op]?.0 }
    public func validate(op: String, arguments: [String]) -> String? {
        guard let (_, options) = ops[op] else { return "unknown op" }
        for a in arguments where a.hasPrefix("--") && !options.contains(a) {
            return "Unknown option '\(a)'" + Spellcheck.hint(for: a, among: options)
        }
        return nil
    }
}
