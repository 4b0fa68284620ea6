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

    /// A fresh directory bind-mounted on `relative` in `workspace` (created here): the same file
    /// system as the workspace, at a mount point that rename(2) cannot cross. Or a skip.
    public static func bindMount(in workspace: TemporaryDirectory, at relative: String,
                                 sourceLocation: SourceLocation = #_sourceLocation) throws -> BindMount {
        let source = TemporaryDirectory("flow-bind")
        let target = workspace.path + "/" + relative
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let m = try FlowBinary.runProgram("mount", ["--bind", source.path, target], in: "/")
        guard m.status == 0 else {
            try unmet("cannot bind-mount a directory here (\(m.stderr.trimmingCharacters(in: .whitespacesAndNewlines)))", sourceLocation: sourceLocation)
        }
        return BindMount(source: source, target: target, workspace: workspace)
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

/// A directory bind-mounted inside a workspace for a test; unmounted when released, before the
/// workspace it holds on to is removed.
public final class BindMount {
    public let source: TemporaryDirectory
    public let target: String
    let workspace: TemporaryDirectory

    init(source: TemporaryDirectory, target: String, workspace: TemporaryDirectory) {
        self.source = source
        self.target = target
        self.workspace = workspace
    }

    deinit { _ = try? FlowBinary.runProgram("umount", ["-l", target], in: "/") }

    /// `options` (`ro`, `rw`) for this mount point only, not for the file system.
    public func remount(_ options: String) throws {
        let m = try FlowBinary.runProgram("mount", ["-o", "remount,bind,\(options)", target], in: "/")
        if m.status != 0 { Issue.record(Comment(rawValue: "cannot remount \(target) \(options): \(m.stderr)")) }
    }
}
