import FlowCore
import Testing

/// `WorkspacePath.normalize` answers most paths without splitting them (they are their own normal
/// form); whatever the path, the answer must be the one the component-by-component rule gives.
@Suite struct WorkspacePathTests {
    /// The rule, written out: drop empty and `.` components, `..` removes the one before (nil
    /// when there is none), absolute and home paths are not workspace paths.
    static func reference(_ path: String) -> String? {
        if path.hasPrefix("/") || path.hasPrefix("~") { return nil }
        var parts: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) where component != "." {
            if component == ".." {
                guard !parts.isEmpty else { return nil }
                parts.removeLast()
            } else {
                parts.append(component)
            }
        }
        return parts.joined(separator: "/")
    }

    @Test func everyShortPathOverSlashesDotsAndALetter() {
        // Every string of up to 7 characters over {a, ., /}: 3,280 paths, each edge case included.
        var paths = [""]
        var frontier = [""]
        for _ in 0..<7 {
            frontier = frontier.flatMap { p in ["a", ".", "/"].map { p + $0 } }
            paths += frontier
        }
        for path in paths {
            #expect(WorkspacePath.normalize(path) == Self.reference(path), "\(path)")
        }
    }

    @Test func examples() {
        #expect(WorkspacePath.normalize("data/x.npy") == "data/x.npy")
        #expect(WorkspacePath.normalize("data//x") == "data/x")
        #expect(WorkspacePath.normalize("./data/") == "data")
        #expect(WorkspacePath.normalize("a/../../b") == nil)
        #expect(WorkspacePath.normalize("a/.../b") == "a/.../b")
        #expect(WorkspacePath.normalize("/etc/passwd") == nil)
    }
}
