import Foundation

/// The result of running a process to completion.
public struct ProcessResult: CustomStringConvertible {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
}

/// Runs the built `flow` binary (or any program) as a user would.
public enum FlowBinary {
    /// The `flow` executable beside the test bundle in the build directory, or FLOW_BIN.
    public static var path: String {
        if let p = ProcessInfo.processInfo.environment["FLOW_BIN"] { return p }
        // Test bundles live in .build/<triple>/<config>/; so does the flow executable.
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("flow").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir.deleteLastPathComponent()
        }
        for config in ["debug", "release"] {
            let candidate = FileManager.default.currentDirectoryPath + "/.build/\(config)/flow"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        fatalError("cannot find the flow binary: build it (swift build) or set FLOW_BIN")
    }

    /// Runs `flow args...` in `directory` and waits for it.
    @discardableResult
    public static func run(_ args: [String], in directory: String, environment: [String: String] = [:],
                           stdin: String? = nil) throws -> ProcessResult {
        try runProgram(path, args, in: directory, environment: environment, stdin: stdin)
    }

    /// Runs any program, capturing stdout and stderr through temporary files (no pipe deadlocks).
    public static func runProgram(_ program: String, _ args: [String], in directory: String,
                                  environment: [String: String] = [:], stdin: String? = nil) throws -> ProcessResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program.hasPrefix("/") ? program : "/usr/bin/env")
        p.arguments = program.hasPrefix("/") ? args : [program] + args
        p.currentDirectoryURL = URL(fileURLWithPath: directory)
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        env.removeValue(forKey: "FLOW_CACHE")
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let outURL = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("flow-out-\(UUID().uuidString)")
        let errURL = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("flow-err-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        p.standardOutput = out
        p.standardError = err
        if let stdin {
            let pipe = Pipe()
            p.standardInput = pipe
            try p.run()
            pipe.fileHandleForWriting.write(Data(stdin.utf8))
            try pipe.fileHandleForWriting.close()
        } else {
            p.standardInput = FileHandle.nullDevice
            try p.run()
        }
        p.waitUntilExit()
        try out.close()
        try err.close()
        return ProcessResult(status: p.terminationStatus,
                             stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                             stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }
}

/// A `flow` process started in the background, with its output going to files.
public final class BackgroundFlow {
    public let process = Process()
    let outPath: String
    let errPath: String

    public init(_ args: [String], in directory: String, environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: FlowBinary.path)
        process.arguments = args
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        env.removeValue(forKey: "FLOW_CACHE")
        for (k, v) in environment { env[k] = v }
        process.environment = env
        outPath = NSTemporaryDirectory() + "/flow-bg-out-\(UUID().uuidString)"
        errPath = NSTemporaryDirectory() + "/flow-bg-err-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }

    public func signal(_ s: Int32) { kill(process.processIdentifier, s) }

    /// Waits for the process and returns what it printed.
    public func wait() -> ProcessResult {
        process.waitUntilExit()
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
        }
        return ProcessResult(status: process.terminationStatus,
                             stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
                             stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }

    /// Polls `condition` every 20 ms for up to `seconds`; true when it held.
    public static func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }
}

extension FlowBinary {
    /// Writes `dag` as flow.dag in a fresh workspace and runs `flow ARGS` there: for the tests of
    /// what a .dag's errors say. The workspace is returned too, for tests that look into it.
    public static func load(_ dag: String, _ args: [String] = ["status"], prefix: String = "flow-dag") throws -> (ProcessResult, TemporaryDirectory) {
        let dir = TemporaryDirectory(prefix)
        try dir.write("flow.dag", dag)
        return (try run(args, in: dir.path), dir)
    }
}
