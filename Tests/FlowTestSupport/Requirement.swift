import Foundation
import Testing

/// What a test needs from the machine (a Python module, Slurm, a tmpfs mount) and may not find.
///
/// A test that cannot run says so as a skip, never as a pass: `unmet` cancels the running test,
/// which Swift Testing reports as skipped with the reason. Under `make test` (FLOW_REQUIRE_ALL=1)
/// nothing may be skipped: `unmet` fails the test instead, so CI cannot pass on a machine that
/// lacks what the suite needs.
public enum Requirement {
    public static var requireAll: Bool { ProcessInfo.processInfo.environment["FLOW_REQUIRE_ALL"] == "1" }

    public struct Unavailable: Error, CustomStringConvertible {
        public var reason: String
        public var description: String { "required here but unavailable: \(reason)" }
    }

    public static func unmet(_ reason: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Never {
        if requireAll {
            Issue.record(Comment(rawValue: "required here but unavailable: \(reason)"), sourceLocation: sourceLocation)
            throw Unavailable(reason: reason)
        }
        try Test.cancel(Comment(rawValue: reason), sourceLocation: sourceLocation)
    }

    /// A small tmpfs of `size` (`2m`, `16m`) mounted on a fresh directory, or a skip.
    public static func tmpfs(size: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> MountedTmpfs {
        let dir = TemporaryDirectory("flow-tmpfs")
        let m = try FlowBinary.runProgram("mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", dir.path], in: "/")
        guard m.status == 0 else {
            try unmet("cannot mount a tmpfs here (\(m.stderr.trimmingCharacters(in: .whitespacesAndNewlines)))", sourceLocation: sourceLocation)
        }
        return MountedTmpfs(directory: dir)
    }
}

/// A tmpfs mounted for a test; unmounted when released.
public final class MountedTmpfs {
    public let directory: TemporaryDirectory
    public var path: String { directory.path }
    init(directory: TemporaryDirectory) { self.directory = directory }
    deinit { _ = try? FlowBinary.runProgram("umount", ["-l", directory.path], in: "/") }

    public func remount(_ options: String) throws {
        _ = try FlowBinary.runProgram("mount", ["-o", "remount,\(options)", directory.path], in: "/")
    }
}
