/// Data that lives outside the workspace, declared with `external NAME = /ABS/PATH`: steps read
/// it (by content, like any input), and flow never writes, restores or removes anything under it.
public struct ExternalRoot: Equatable, Sendable {
    public var name: String
    /// Absolute and lexically normalized (no `.`, `..`, `//` or trailing `/`).
    public var path: String

    public init(name: String, path: String) {
        self.name = name
        self.path = path
    }

    /// True when the absolute `other` is this root or lies under it.
    public func contains(_ other: String) -> Bool {
        other == path || other.hasPrefix(path + "/")
    }

    /// `path` with `.`, empty components and `..` resolved lexically, when it is absolute; nil
    /// otherwise (`/..` stays at `/`, as the kernel has it).
    public static func normalizeAbsolute(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return nil }
        var parts: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            if component == "." { continue }
            if component == ".." { _ = parts.popLast(); continue }
            parts.append(component)
        }
        return "/" + parts.joined(separator: "/")
    }
}

/// What a step runs with, declared with `toolchain NAME = EXECUTABLE [ARGS...]`: the executable's
/// content (links followed) and, when arguments are given, the output of `EXECUTABLE ARGS...`
/// (a version, or a `pip freeze`) enter the step's key as one digest per toolchain.
public struct Toolchain: Equatable, Sendable {
    public var name: String
    /// Workspace-relative (normalized), absolute, or a bare name looked up on `PATH`.
    public var executable: String
    /// Empty: only the executable's content counts.
    public var arguments: [String]
    public var location: SourceLocation

    public init(name: String, executable: String, arguments: [String], location: SourceLocation) {
        self.name = name
        self.executable = executable
        self.arguments = arguments
        self.location = location
    }

    /// The declaration as written after `=`, for messages and for `flow explain`.
    public var commandLine: String { ([executable] + arguments).map(ShellQuote.quote).joined(separator: " ") }
}
