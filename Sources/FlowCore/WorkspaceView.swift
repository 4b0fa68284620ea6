/// What the loader may ask of the workspace: read a .dag file, look at what exists, expand globs.
/// The runtime implements it on the real file system; tests use an in-memory one.
public protocol WorkspaceView {
    /// The text of a file, by path relative to the workspace root.
    func readText(_ path: String) throws -> String
    func kind(of path: String) -> PathKind
    /// Where `path` leads once every symbolic link on the way is followed: a workspace-relative
    /// path while it stays inside the workspace, an absolute one once it leaves it; nil when it
    /// cannot be followed (nothing there, a loop of links).
    func realPath(_ path: String) -> String?
    /// Files (not directories) matching `pattern` (`*`, `?`, `[...]` within a component, `**` across
    /// components), relative to the root, sorted.
    func glob(_ pattern: String) -> [String]
    /// True for paths inside flow's own directories (its state and its cache), which no step may
    /// read or write.
    func isOwnedByFlow(_ path: String) -> Bool
    /// True for a path flow put in the workspace as a step's output. A glob does not match such a
    /// file unless a step of the workflow being loaded still declares it: the others are outputs
    /// of steps that left the workflow, which a run removes.
    func wasProducedByFlow(_ path: String) -> Bool
    /// The files (workspace-relative paths) under `directory` in the current result of step
    /// instance `step`, once that result is known (the step is fresh, restored or has run), else
    /// nil: a fan-out over them waits for it.
    func resultFiles(of step: String, directory: String) -> [String]?
}

extension WorkspaceView {
    public func isOwnedByFlow(_ path: String) -> Bool { WorkspacePath.isReserved(path) }
    public func wasProducedByFlow(_ path: String) -> Bool { false }
    public func resultFiles(of step: String, directory: String) -> [String]? { nil }
}

public enum PathKind: Equatable, Sendable {
    case missing, file, directory
}

/// What the loader may ask about built-in ops: the catalog lives above the engine (FlowOps).
public protocol OpCatalog {
    var opNames: [String] { get }
    /// The op's version, which enters the action key; nil for an unknown op.
    func version(of op: String) -> Int?
    /// Checks an op's arguments as the op would parse them; returns the error message, or nil.
    func validate(op: String, arguments: [String]) -> String?
    /// Every file the op writes with these arguments, where it writes files its options only imply.
    func writes(op: String, arguments: [String]) -> [String]
}

extension OpCatalog {
    public func writes(op: String, arguments: [String]) -> [String] { [] }
}

/// Path arithmetic on workspace-relative paths, without touching the disk.
public enum WorkspacePath {
    /// flow's state directory in every workspace (`.flow/`): the state database, logs, the lock.
    public static let stateDirectory = ".flow"

    /// True for `.flow` and anything inside it.
    public static func isReserved(_ path: String) -> Bool {
        isInside(path, stateDirectory)
    }

    /// True when `path` is `directory` or lies inside it, compared byte by byte (no `directory +
    /// "/"` made for each path asked about).
    public static func isInside(_ path: String, _ directory: String) -> Bool {
        var p = path.utf8.makeIterator()
        for byte in directory.utf8 where p.next() != byte { return false }
        let next = p.next()
        return next == nil || next == UInt8(ascii: "/")
    }

    /// Removes `.`, empty components and resolves `..` lexically; nil if the path escapes the root
    /// or is absolute. A trailing `/` is dropped (the caller records that it was a directory).
    public static func normalize(_ path: String) -> String? {
        if path.hasPrefix("/") || path.hasPrefix("~") { return nil }
        if isNormal(path) { return path }
        var parts: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            if component == "." { continue }
            if component == ".." {
                guard !parts.isEmpty else { return nil }
                parts.removeLast()
            } else {
                parts.append(component)
            }
        }
        return parts.joined(separator: "/")
    }

    /// True when `path` has no empty, `.` or `..` component (most paths): it is its own normal form.
    static func isNormal(_ path: String) -> Bool {
        var length = 0, dots = 0
        for byte in path.utf8 {
            if byte == UInt8(ascii: "/") {
                if length == 0 || length == dots && dots <= 2 { return false }
                length = 0
                dots = 0
            } else {
                length += 1
                if byte == UInt8(ascii: ".") { dots += 1 }
            }
        }
        return length > 0 && !(length == dots && dots <= 2)
    }

    public static func isGlob(_ path: String) -> Bool {
        path.utf8.contains { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") }
    }

    /// True when a directory above `path` (not `path` itself) is in `set`: a file inside an
    /// output directory, a hidden directory, a produced one.
    public static func hasAncestor(_ path: String, in set: Set<String>) -> Bool {
        guard !set.isEmpty else { return false }
        var p = Substring(path)
        while let slash = p.lastIndex(of: "/") {
            p = p[..<slash]
            if set.contains(String(p)) { return true }
        }
        return false
    }

    /// The last component.
    /// The last component (`c` of `a/b/c`, and of `a/b/c/`); the path itself when it has none.
    public static func name(_ path: String) -> String {
        let slash = UInt8(ascii: "/")
        var end = path.utf8.endIndex
        while end > path.utf8.startIndex, path.utf8[path.utf8.index(before: end)] == slash { end = path.utf8.index(before: end) }
        guard end > path.utf8.startIndex else { return path }
        let head = path[..<end]
        guard let last = head.utf8.lastIndex(of: slash) else { return String(head) }
        return String(head[head.utf8.index(after: last)...])
    }

    /// The last component without its last extension.
    public static func stem(_ path: String) -> String {
        let n = name(path)
        guard let dot = n.lastIndex(of: "."), dot != n.startIndex else { return n }
        return String(n[..<dot])
    }

    public static func directory(_ path: String) -> String {
        // In ASCII text every byte is a character (but "\r\n", no slash): a search of the bytes
        // finds the slash a search of the characters would, without breaking graphemes.
        if path.utf8.allSatisfy({ $0 < 0x80 }) {
            guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "" }
            return String(path[..<slash])
        }
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }

    /// Shell-style matching of one path against a pattern; `**` matches any number of components.
    public static func matches(_ path: String, pattern: String) -> Bool {
        matchComponents(Array(path.split(separator: "/")), Array(pattern.split(separator: "/")))
    }

    private static func matchComponents(_ path: [Substring], _ pattern: [Substring]) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        if first == "**" {
            for skip in 0...path.count where matchComponents(Array(path[skip...]), Array(pattern.dropFirst())) { return true }
            return false
        }
        guard let head = path.first, fnmatch(Array(head.unicodeScalars), Array(first.unicodeScalars)) else { return false }
        return matchComponents(Array(path.dropFirst()), Array(pattern.dropFirst()))
    }

    /// `*`, `?` and `[abc]`/`[!abc]`/`[a-z]` within one component; a leading `.` needs an explicit `.`.
    static func fnmatch(_ s: [Unicode.Scalar], _ p: [Unicode.Scalar]) -> Bool {
        if s.first == ".", p.first != "." { return false }
        var si = 0, pi = 0
        var star: Int? = nil, mark = 0
        while si < s.count {
            if pi < p.count, p[pi] == "*" {
                star = pi; mark = si; pi += 1
                continue
            }
            if pi < p.count, let (matched, next) = matchOne(s[si], p, pi), matched {
                si += 1; pi = next
                continue
            }
            if let st = star {
                pi = st + 1; mark += 1; si = mark
                continue
            }
            return false
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    private static func matchOne(_ c: Unicode.Scalar, _ p: [Unicode.Scalar], _ pi: Int) -> (Bool, Int)? {
        switch p[pi] {
        case "?": return (true, pi + 1)
        case "[":
            var i = pi + 1
            var negate = false
            if i < p.count, p[i] == "!" || p[i] == "^" { negate = true; i += 1 }
            var matched = false
            var first = true
            while i < p.count, p[i] != "]" || first {
                first = false
                if i + 2 < p.count, p[i + 1] == "-", p[i + 2] != "]" {
                    if p[i] <= c && c <= p[i + 2] { matched = true }
                    i += 3
                } else {
                    if p[i] == c { matched = true }
                    i += 1
                }
            }
            guard i < p.count else { return (c == "[", pi + 1) } // no closing ']': a literal '['
            return (matched != negate, i + 1)
        default:
            return (p[pi] == c, pi + 1)
        }
    }
}
