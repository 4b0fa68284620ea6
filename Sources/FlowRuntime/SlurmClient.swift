import Foundation

/// An error from a Slurm command: the command line, its exit status and what it printed.
public struct SlurmError: Error, CustomStringConvertible {
    public var command: String
    public var status: Int32
    public var message: String
    public var description: String {
        "\(command) failed (exit status \(status)): \(message.trimmingCharacters(in: .whitespacesAndNewlines))"
    }
}

/// Runs Slurm's commands (sbatch, squeue, sacct, scancel) and parses their output. Every query
/// covers all the given jobs in one call, so polling costs one squeue per interval, not one per job.
public final class SlurmClient {
    /// A job's state as Slurm reports it (`RUNNING`, `TIMEOUT`, ...) and, from sacct, its exit code.
    public struct JobState: Equatable, Sendable {
        public var state: String
        public var reason: String
        public var exitCode: String
        /// The node(s) the job runs or ran on (squeue `%N`, sacct `NodeList`); empty while pending.
        public var node: String = ""

        public init(state: String, reason: String, exitCode: String, node: String = "") {
            self.state = state
            self.reason = reason
            self.exitCode = exitCode
            self.node = node
        }
    }

    /// What a Slurm command printed and how it ended.
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String

        public init(status: Int32, stdout: String, stderr: String) {
            self.status = status
            self.stdout = stdout
            self.stderr = stderr
        }
    }

    /// Runs one Slurm tool with its arguments. The default starts the real command; tests pass
    /// one that answers from recorded output (the seam ninja calls `CommandRunner`).
    public typealias CommandRunner = (_ tool: String, _ arguments: [String]) throws -> Output

    /// Directory of the Slurm commands; nil searches PATH.
    let binDirectory: String?
    let commandRunner: CommandRunner?
    /// Whether plain `sacct` said accounting storage is disabled; then `sacct -c` (job completion
    /// records) is used instead.
    private var completionOnly = false

    public init(binDirectory: String? = ProcessInfo.processInfo.environment["FLOW_SLURM_BIN"]) {
        self.binDirectory = binDirectory
        commandRunner = nil
    }

    /// A client whose commands are answered by `commandRunner` instead of Slurm.
    public init(commandRunner: @escaping CommandRunner) {
        binDirectory = nil
        self.commandRunner = commandRunner
    }

    /// Whether `sbatch` can be found.
    public var available: Bool {
        (try? run("sbatch", ["--version"]))?.status == 0
    }

    /// Submits a script; returns the job id.
    public func submit(script path: String) throws -> String {
        let r = try run("sbatch", ["--parsable", path], environment: SlurmClient.submissionEnvironment())
        guard r.status == 0 else { throw SlurmError(command: "sbatch \(path)", status: r.status, message: r.stderr + r.stdout) }
        let id = r.stdout.split(separator: "\n").last.map { String($0.split(separator: ";")[0]) } ?? ""
        guard !id.isEmpty, id.allSatisfy({ $0.isNumber || $0 == "_" }) else {
            throw SlurmError(command: "sbatch \(path)", status: r.status, message: "unexpected output '\(r.stdout)'")
        }
        return id
    }

    /// The jobs squeue still knows (pending, running, or recently ended), in one call.
    public func queue(_ ids: [String]) throws -> [String: JobState] {
        guard !ids.isEmpty else { return [:] }
        let r = try run("squeue", ["-h", "--states=all", "-j", ids.joined(separator: ","), "-o", "%i|%T|%r|%N"])
        if r.status != 0 {
            // When none of the jobs is known any more squeue says "Invalid job id specified".
            if r.stderr.contains("Invalid job id") { return [:] }
            throw SlurmError(command: "squeue", status: r.status, message: r.stderr)
        }
        return SlurmClient.parseQueue(r.stdout)
    }

    /// The jobs with these names that squeue knows, with their batch scripts' paths (`%o`), in one call.
    public func jobs(named names: [String]) throws -> [(id: String, state: String, script: String)] {
        var result: [(id: String, state: String, script: String)] = []
        // At most 500 names a call: one argument may not exceed 128 KiB.
        for start in stride(from: 0, to: names.count, by: 500) {
            let some = names[start..<min(names.count, start + 500)]
            let r = try run("squeue", ["-h", "--states=all", "-n", some.joined(separator: ","), "-o", "%i|%T|%o"])
            guard r.status == 0 else { throw SlurmError(command: "squeue", status: r.status, message: r.stderr) }
            result += r.stdout.split(separator: "\n").compactMap { line in
                let f = line.split(separator: "|", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
                return f.count == 3 && f[0].first?.isNumber == true ? (f[0], f[1], f[2]) : nil
            }
        }
        return result
    }

    /// What accounting says of ended jobs, in one call (`sacct`, or `sacct -c` without accounting storage).
    public func accounting(_ ids: [String]) throws -> [String: JobState] {
        guard !ids.isEmpty else { return [:] }
        let args = ["-n", "-P", "-X", "-j", ids.joined(separator: ","), "--format=JobID,State,ExitCode,NodeList"]
        var r = try run("sacct", (completionOnly ? ["-c"] : []) + args)
        if r.status != 0 && !completionOnly && r.stdout.isEmpty && (r.stderr + r.stdout).contains("accounting storage is disabled") {
            completionOnly = true
            r = try run("sacct", ["-c"] + args)
        }
        guard r.status == 0 else { throw SlurmError(command: "sacct", status: r.status, message: r.stderr) }
        return SlurmClient.parseAccounting(r.stdout)
    }

    /// `squeue -h -o '%i|%T|%r|%N'` output: `812|RUNNING|None|gpu-a17` (the node field may be absent).
    public static func parseQueue(_ text: String) -> [String: JobState] {
        parse(text, fields: 3) { f in (f[0], JobState(state: f[1], reason: f[2], exitCode: "", node: f.count > 3 ? f[3] : "")) }
    }

    /// `sacct -n -P -X --format=JobID,State,ExitCode,NodeList` output: `812|CANCELLED by 1000|0:15|gpu-a17`.
    /// "CANCELLED by 1000" becomes "CANCELLED"; a requeued array or het job line (`812+0`) is kept as printed.
    public static func parseAccounting(_ text: String) -> [String: JobState] {
        parse(text, fields: 3) { f in
            (f[0], JobState(state: String(f[1].split(separator: " ").first ?? ""), reason: "", exitCode: f[2], node: f.count > 3 ? f[3] : ""))
        }
    }

    /// `scancel`: with a signal, only signals the jobs' batch shells and steps (they go on
    /// unless the signal ends them); without, cancels them.
    public func cancel(_ ids: [String], signal: String? = nil) throws {
        guard !ids.isEmpty else { return }
        let args = (signal.map { ["--signal=\($0)", "--full"] } ?? []) + ids
        let r = try run("scancel", args)
        guard r.status == 0 else { throw SlurmError(command: "scancel \(args.joined(separator: " "))", status: r.status, message: r.stderr) }
    }

    static func parse(_ text: String, fields: Int, _ make: ([String]) -> (String, JobState)) -> [String: JobState] {
        var result: [String: JobState] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            // A job id starts with a digit (`812`, `812_3` for an array task); anything else is not a job line.
            guard f.count >= fields, f[0].first?.isNumber == true else { continue }
            let (id, state) = make(f)
            result[id] = state
        }
        return result
    }

    /// Runs a Slurm command to completion, capturing its output through temporary files.
    /// What sbatch is run with: what it needs to find and talk to Slurm, and the user's own
    /// `SLURM_*` and `SBATCH_*` settings; nothing else of flow's environment (a token, say) goes
    /// into the job's record. The job script sets the step's own environment.
    static func submissionEnvironment(_ from: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        from.filter { k, _ in ["PATH", "HOME", "USER", "LOGNAME", "LANG", "TMPDIR"].contains(k) || k.hasPrefix("SLURM_") || k.hasPrefix("SBATCH_") }
    }

    func run(_ tool: String, _ args: [String], environment: [String: String]? = nil) throws -> Output {
        if let commandRunner { return try commandRunner(tool, args) }
        let p = Process()
        if let environment { p.environment = environment }
        if let binDirectory {
            p.executableURL = URL(fileURLWithPath: binDirectory + "/" + tool)
            p.arguments = args
        } else {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = [tool] + args
        }
        let base = NSTemporaryDirectory() + "flow-slurm-\(getpid())-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: base + ".out", contents: nil)
        _ = FileManager.default.createFile(atPath: base + ".err", contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: base + ".out")
            try? FileManager.default.removeItem(atPath: base + ".err")
        }
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".out"))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".err"))
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        let out = (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? ""
        let status = p.terminationReason == .exit ? p.terminationStatus : 128 + p.terminationStatus
        if status == 127 && p.arguments?.first == tool {
            throw SlurmError(command: tool, status: status, message: "\(tool) not found in PATH (is Slurm installed on this machine?)")
        }
        return Output(status: status, stdout: out, stderr: err)
    }
}
