import ArgumentParser
import Foundation
import FlowRuntime
import Glibc

/// `flow exec --record PATH [--output PATH]... -- COMMAND...`: the wrapper a Slurm job runs.
/// Runs the command in its own process group (stdout and stderr as given, i.e. the step's log),
/// forwards SIGTERM, SIGINT, SIGHUP and SIGUSR1 to it, then hashes the outputs on the node and
/// writes the completion record atomically. Its exit status is the command's.
struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a step's command on a cluster node and write its completion record (used in Slurm job scripts).",
        discussion: """
            flow writes this into the sbatch script of each step; you do not normally run it yourself. \
            The command runs with the environment flow exec was given. When it ends, each --output is \
            hashed (XXH3-128, as the cache does) and a JSON record with the exit status, the signals \
            received, start and end times, the node and the output digests is written to --record.
            """)

    @Option(help: "Where to write the completion record (JSON); %j becomes $SLURM_JOB_ID.")
    var record: String

    @Option(help: "A declared output of the step, relative to the working directory (repeatable); hashed after the command ends.")
    var output: [String] = []

    @Option(help: "The step's name, for the record (default: $FLOW_STEP).")
    var step: String?

    @Option(help: "Seconds after the start at which the command gets SIGUSR1 unless Slurm's warning came first (a checkpointed step's time limit less its warning).")
    var warnAfter: Int?

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (after --).")
    var command: [String] = []

    func run() throws {
        let argv = command.first == "--" ? Array(command.dropFirst()) : command
        guard !argv.isEmpty else { throw ValidationError("flow exec: no command given (put it after --)") }
        let env = ProcessInfo.processInfo.environment
        let job = env["SLURM_JOB_ID"] ?? "local-\(getpid())"
        let started = Date().timeIntervalSince1970
        let forwarded = [SIGTERM, SIGINT, SIGHUP, SIGUSR1]
        // Blocked, not ignored, until the signal sources below take them: Slurm may send its
        // warning as the job starts (it sends up to a minute early), and a blocked signal waits.
        var blocked = sigset_t()
        sigemptyset(&blocked)
        for s in forwarded { sigaddset(&blocked, s) }
        sigprocmask(SIG_BLOCK, &blocked, nil)
        let pid = try spawn(argv, defaulting: forwarded)
        let received = ReceivedSignals()
        let warning = Warning(group: pid)
        var sources: [DispatchSourceSignal] = []
        if pid > 0 {
            for s in forwarded {
                let source = DispatchSource.makeSignalSource(signal: s, queue: .global())
                source.setEventHandler {
                    received.add(s)
                    if s == SIGUSR1 { warning.send() } else { kill(-pid, s) }
                }
                source.resume()
                sources.append(source)
            }
            if let warnAfter {
                // Slurm's warning is sent from a periodic check and can be lost at the job's start;
                // this one is sent if none came by then.
                DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(max(0, warnAfter))) {
                    if !warning.sent { warning.send() }
                }
            }
        }
        var exitStatus: Int32? = 127
        var signalled: Int32?
        if pid > 0 {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            if status & 0x7f == 0 { exitStatus = (status >> 8) & 0xff } else { exitStatus = nil; signalled = status & 0x7f }
        }
        // Slurm signals every process of the job at once: the command may die of it before the
        // signal source here has run. A failure waits a moment for it, so that the record says the
        // job was stopped (a time limit then reads TIMEOUT, not FAILED).
        if exitStatus != 0 && received.all.isEmpty {
            for _ in 0..<10 where received.all.isEmpty { usleep(50_000) }
        }
        sources.forEach { $0.cancel() }
        var outputs: [String: String] = [:]
        for o in output { outputs[o] = SlurmCompletionRecord.digest(ofOutput: o) }
        let completion = SlurmCompletionRecord(
            job: job, step: step ?? env["FLOW_STEP"] ?? "", exitStatus: exitStatus, signal: signalled,
            signalsReceived: received.all, started: started, ended: Date().timeIntervalSince1970,
            node: ProcessInfo.processInfo.hostName, outputs: outputs)
        try completion.write(to: SlurmCompletionRecord.path(record, job: job))
        if let signalled { throw ExitCode(128 + signalled) }
        if exitStatus != 0 { throw ExitCode(exitStatus ?? 1) }
    }

    /// The processes of process group `group` that have a handler for `signal` (SigCgt in /proc).
    static func processes(inGroup group: pid_t, catching signal: Int32) -> [pid_t] {
        var result: [pid_t] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let p = pid_t(name),
                  let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // After "pid (comm)": state, ppid, pgrp, ...
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, pid_t(fields[2]) == group,
                  let status = try? String(contentsOfFile: "/proc/\(name)/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigCgt:") }),
                  let mask = UInt64(line.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) else { continue }
            if mask & (1 << UInt64(signal - 1)) != 0 { result.append(p) }
        }
        return result
    }

    /// Starts `argv` (searched in PATH) in a new process group with the given signals back at
    /// their defaults; returns 0 (after printing why) when it cannot be started.
    func spawn(_ argv: [String], defaulting signals: [Int32]) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in signals { sigaddset(&defaults, s) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))
        var pid: pid_t = 0
        let copies = argv.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        var pointers: [UnsafeMutablePointer<CChar>?] = copies + [nil]
        let rc = posix_spawnp(&pid, argv[0], nil, &attributes, &pointers, environ)
        if rc != 0 {
            FileHandle.standardError.write(Data("flow exec: cannot start '\(argv[0])': \(String(cString: strerror(rc)))\n".utf8))
            return 0
        }
        return pid
    }
}

/// SIGUSR1, the time-limit warning, for the command's process group.
final class Warning: @unchecked Sendable {
    // @unchecked: `count` is read and written only under `lock`; `group` is a constant.
    private let lock = NSLock()
    private var count = 0
    let group: pid_t
    init(group: pid_t) { self.group = group }

    var sent: Bool { lock.lock(); defer { lock.unlock() }; return count > 0 }

    /// Sends the warning only to the processes that handle it, so that a `/bin/sh -c` around the
    /// command is not killed by it. When none handles it yet (the command is starting), it is
    /// held until one does, for as long as the command runs.
    func send() {
        lock.lock(); count += 1; lock.unlock()
        DispatchQueue.global().async { [group] in
            while kill(group, 0) == 0 {
                let catchers = ExecCommand.processes(inGroup: group, catching: SIGUSR1)
                if !catchers.isEmpty {
                    for p in catchers { kill(p, SIGUSR1) }
                    return
                }
                usleep(200_000)
            }
        }
    }
}

/// The signals `flow exec` received, in order (written from a dispatch queue, read at the end).
final class ReceivedSignals: @unchecked Sendable {
    // @unchecked: `signals` is read and written only under `lock`.
    private let lock = NSLock()
    private var signals: [Int32] = []
    func add(_ s: Int32) { lock.lock(); signals.append(s); lock.unlock() }
    var all: [Int32] { lock.lock(); defer { lock.unlock() }; return signals }
}
