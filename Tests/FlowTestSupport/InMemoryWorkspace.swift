import FlowCore

/// A workspace of in-memory files, for loader tests that need no disk.
public final class InMemoryWorkspace: WorkspaceView {
    public var files: [String: String]

    public init(_ files: [String: String] = [:]) {
        self.files = files
    }

    public struct Missing: Error, CustomStringConvertible {
        public var description = "No such file or directory"
    }

    public func readText(_ path: String) throws -> String {
        guard let text = files[path] else { throw Missing() }
        return text
    }

    public func kind(of path: String) -> PathKind {
        if files[path] != nil { return .file }
        return files.keys.contains { $0.hasPrefix(path + "/") } ? .directory : .missing
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
