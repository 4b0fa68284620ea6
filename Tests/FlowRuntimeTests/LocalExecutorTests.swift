import Foundation
import FlowCore
@testable import FlowRuntime
import FlowTestSupport
import Glibc
import Testing

/// The local executor and the real flow-supervisor (built beside flow): how steps end, steps
/// that cannot start, signals, many steps at once, long requests, the held descriptor, and a
/// supervisor that dies under running steps.
@Suite struct LocalExecutorTests {
    static var supervisor: String { (FlowBinary.path as NSString).deletingLastPathComponent + "/flow-supervisor" }

    static func process(_ command: String, in dir: TemporaryDirectory, name: String = "s", argv: [String]? = nil,
                        environment: [String: String] = [:]) -> ProcessDescription {
        ProcessDescription(step: name, argv: argv ?? ["/bin/sh", "-c", command], environment: ["PATH": "/usr/bin:/bin"].merging(environment) { $1 },
                           workingDirectory: dir.path, resources: Resources(), gpus: [], logPath: dir.path + "/\(name).log",
                           timeout: 0, attempt: 1)
    }

    /// The completions of `count` steps, by token, waiting up to `seconds` in all.
    static func completions(_ executor: LocalExecutor, _ count: Int, seconds: Double = 20) -> [Int: Completion] {
        var result: [Int: Completion] = [:]
        let deadline = Date().addingTimeInterval(seconds)
        while result.count < count, Date() < deadline {
            if let c = executor.next(timeout: 0.2) { result[c.token] = c }
        }
        return result
    }

    /// Starts `count` steps s0, s1, ... that each wait for a line from a FIFO and then run
    /// `command(i)`: none can end before all have started, however slowly they start. Returns the
    /// FIFO's descriptor (held open by the test; `release` lets the steps go).
    static func startGated(_ executor: LocalExecutor, _ count: Int, in dir: TemporaryDirectory,
                           then command: (Int) -> String) throws -> Int32 {
        let gate = dir.path + "/gate"
        #expect(mkfifo(gate, 0o600) == 0)
        let writer = open(gate, O_RDWR | O_CLOEXEC)
        for i in 0..<count {
            _ = try executor.start(process("read line < gate; " + command(i), in: dir, name: "s\(i)"), token: i)
        }
        return writer
    }

    /// Lets `count` gated steps go: a line each.
    static func release(_ gate: Int32, _ count: Int) -> Bool {
        let lines = [UInt8](repeating: UInt8(ascii: "\n"), count: count)
        return write(gate, lines, lines.count) == count
    }

    /// Twice as many reports as the supervisor's socket holds before a send would wait (a report
    /// takes about 770 bytes of the socket's buffer, 278 of them fit with Linux's default 208 KiB).
    static var moreEndsThanTheSocketHolds: Int {
        let buffer = (try? String(contentsOfFile: "/proc/sys/net/core/wmem_default", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 212_992
        return min(max(600, buffer / 385 + 100), 4000)
    }

    /// The pid of each of `supervisor`'s children that has not been reaped.
    static func children(of supervisor: pid_t) -> String? {
        try? String(contentsOfFile: "/proc/\(supervisor)/task/\(supervisor)/children", encoding: .utf8)
    }

    /// Whether `pid` is a live process (not gone, not a zombie).
    static func alive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return !stat[close...].hasPrefix(") Z")
    }

    @Test func endsAreReportedWithTheirStatusSignalAndPeakMemory() throws {
        let dir = TemporaryDirectory("flow-local-ends")
        let executor = LocalExecutor(graceSeconds: 2, supervisor: Self.supervisor)
        let exit7 = try executor.start(Self.process("echo out; echo err >&2; exit 7", in: dir, name: "exit"), token: 1)
        #expect(Int32(exit7) ?? 0 > 0, "the handle is the pid: \(exit7)")
        _ = try executor.start(Self.process("kill -TERM $$; sleep 5", in: dir, name: "term"), token: 2)
        // Its own process group, which it leads, stdin from /dev/null, in the working directory.
        _ = try executor.start(Self.process("""
            test "$(cut -d' ' -f5 /proc/$$/stat)" = $$ && echo leader; read x || echo eof; pwd
            """, in: dir, name: "setup"), token: 3)
        let ends = Self.completions(executor, 3)
        #expect(ends[1]?.termination == .exited(7))
        #expect((ends[1]?.peakMemory ?? 0) > 100_000, "\(String(describing: ends[1]?.peakMemory))")
        #expect(ends[2]?.termination == .signaled(SIGTERM))
        #expect(ends[3]?.termination == .exited(0))
        #expect(try dir.read("exit.log") == "out\nerr\n")
        #expect(try dir.read("setup.log") == "leader\neof\n\(URL(fileURLWithPath: dir.path).resolvingSymlinksInPath().path)\n")
        #expect(executor.running == 0)
    }

    @Test func aCommandThatCannotStartFailsWithTheErrorOfItsExec() throws {
        let dir = TemporaryDirectory("flow-local-exec")
        let executor = LocalExecutor(graceSeconds: 2, supervisor: Self.supervisor)
        let missing = try executor.start(Self.process("", in: dir, name: "missing", argv: ["/nonexistent/tool", "x"]), token: 1)
        #expect(missing == "-")
        var noDirectory = Self.process("echo hi", in: dir, name: "nodir")
        noDirectory.workingDirectory = dir.path + "/not-there"
        #expect(try executor.start(noDirectory, token: 2) == "-")
        let notExecutable = dir.path + "/data.txt"
        try dir.write("data.txt", "just data\n")
        _ = try executor.start(Self.process("", in: dir, name: "noexec", argv: [notExecutable]), token: 3)
        // Searched in the step's PATH, not in flow's.
        _ = try executor.start(Self.process("", in: dir, name: "path", argv: ["tool-only-in-step-path"],
                                            environment: ["PATH": dir.path + "/bin"]), token: 4)
        try dir.write("bin/tool-only-in-step-path", "#!/bin/sh\necho found\n")
        chmod(dir.path + "/bin/tool-only-in-step-path", 0o755)
        _ = try executor.start(Self.process("", in: dir, name: "path2", argv: ["tool-only-in-step-path"],
                                            environment: ["PATH": dir.path + "/bin"]), token: 5)
        let ends = Self.completions(executor, 5)
        #expect(ends[1]?.termination == .failedToStart("/nonexistent/tool: No such file or directory"))
        #expect(ends[2]?.termination == .failedToStart("/bin/sh: No such file or directory"))
        #expect(ends[3]?.termination == .failedToStart("\(notExecutable): Permission denied"))
        #expect(ends[4]?.termination == .failedToStart("tool-only-in-step-path: No such file or directory"))
        #expect(ends[5]?.termination == .exited(0))
        #expect(try dir.read("path2.log") == "found\n")
        #expect(executor.running == 0)
    }

    @Test func aSignalReachesTheWholeGroupOfAStep() throws {
        let dir = TemporaryDirectory("flow-local-signal")
        let executor = LocalExecutor(graceSeconds: 2, supervisor: Self.supervisor)
        _ = try executor.start(Self.process("sleep 30 & echo $! > bg.pid; wait", in: dir), token: 1)
        #expect(BackgroundFlow.waitUntil(seconds: 10) { ((try? dir.read("bg.pid")) ?? "").hasSuffix("\n") })
        let background = Int32((try dir.read("bg.pid")).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        executor.signal(token: 1, SIGTERM)
        let ends = Self.completions(executor, 1)
        #expect(ends[1]?.termination == .signaled(SIGTERM))
        #expect(BackgroundFlow.waitUntil(seconds: 5) { !Self.alive(background) }, "the background sleep outlived the signal")
    }

    @Test func aBackgroundChildIsStoppedWhenItsCommandEnds() throws {
        let dir = TemporaryDirectory("flow-local-background")
        let executor = LocalExecutor(graceSeconds: 2, supervisor: Self.supervisor)
        _ = try executor.start(Self.process("sleep 30 & echo $! > bg.pid; exit 3", in: dir), token: 1)
        let ends = Self.completions(executor, 1)
        #expect(ends[1]?.termination == .exited(3))
        let background = Int32((try dir.read("bg.pid")).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(background > 0)
        #expect(BackgroundFlow.waitUntil(seconds: 5) { !Self.alive(background) }, "the background sleep outlived its step")
    }

    @Test func manyStepsAtOnceAllEndAndTheSupervisorKeepsNoDescriptor() throws {
        let dir = TemporaryDirectory("flow-local-many")
        let executor = LocalExecutor(graceSeconds: 2, supervisor: Self.supervisor)
        let count = 300
        let gate = try Self.startGated(executor, count, in: dir) { "echo \($0)" }
        defer { close(gate) }
        #expect(executor.running == count, "the steps run at once")
        #expect(Self.release(gate, count))
        let ends = Self.completions(executor, count, seconds: 60)
        #expect(ends.count == count)
        #expect(ends.values.allSatisfy { $0.termination == .exited(0) })
        for i in 0..<count { #expect((try? dir.read("s\(i).log")) == "\(i)\n") }
        #expect(executor.running == 0)
        // 0-2 (/dev/null), the socket, the signalfd and the epoll set: no step's pipe, log or
        // lock stayed open.
        let pid = try #require(executor.supervisorPID)
        let fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")
        #expect(fds.count == 6, "\(fds.sorted())")
    }

    @Test func aRequestLongerThanOneRecordArrivesWhole() throws {
        let dir = TemporaryDirectory("flow-local-long")
        let executor = LocalExecutor(graceSeconds: 2, supervisor: Self.supervisor)
        // 300 arguments of 1000 bytes and 100 environment entries of 2000: about 500 KB, more
        // than a record of the socket can hold.
        let words = (0..<300).map { String(repeating: Character(UnicodeScalar(97 + $0 % 26)!), count: 1000) }
        var environment: [String: String] = [:]
        for i in 0..<100 { environment["V\(i)"] = String(repeating: "v", count: 2000) }
        let argv = ["/bin/sh", "-c", "printf %s \"$@\" | wc -c; env | grep -c '^V[0-9]*=v*$'", "sh"] + words
        _ = try executor.start(Self.process("", in: dir, argv: argv, environment: environment), token: 1)
        let ends = Self.completions(executor, 1)
        #expect(ends[1]?.termination == .exited(0))
        #expect(try dir.read("s.log") == "300000\n100\n")
    }

    /// flow reads the supervisor's socket only while it waits for something. Ends it has not read
    /// yet must not keep the supervisor from taking a request too long for the socket to hold at
    /// once (a supervisor that blocked on a full socket, while flow blocked sending, hung both).
    @Test func endsNotYetReadDoNotHoldUpALongRequest() throws {
        let dir = TemporaryDirectory("flow-local-unread")
        let executor = LocalExecutor(graceSeconds: 2, supervisor: Self.supervisor)
        let count = Self.moreEndsThanTheSocketHolds
        let gate = try Self.startGated(executor, count, in: dir) { ": > done\($0)" }
        defer { close(gate) }
        #expect(Self.release(gate, count))
        // Every step has ended and been reported, more ends than the socket holds, none read.
        #expect(BackgroundFlow.waitUntil(seconds: 60) { (0..<count).allSatisfy { dir.exists("done\($0)") } })
        let supervisor = try #require(executor.supervisorPID)
        #expect(BackgroundFlow.waitUntil(seconds: 20) { Self.children(of: supervisor)?.isEmpty == true }, "the supervisor reaps every step")
        // A request of about 500 KB, which goes in several records; should it hang, the
        // supervisor is killed after 20 s so that the test ends (and fails).
        let words = (0..<500).map { _ in String(repeating: "w", count: 1000) }
        let argv = ["/bin/sh", "-c", "printf %s \"$@\" | wc -c", "sh"] + words
        let watchdog = DispatchWorkItem { kill(supervisor, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 20, execute: watchdog)
        _ = try executor.start(Self.process("", in: dir, name: "long", argv: argv), token: count)
        watchdog.cancel()
        let ends = Self.completions(executor, count + 1, seconds: 60)
        #expect(ends.count == count + 1)
        #expect(ends.values.allSatisfy { $0.termination == .exited(0) }, "\(ends.values.filter { $0.termination != .exited(0) }.prefix(3))")
        #expect(try dir.read("long.log") == "500000\n")
    }

    /// A supervisor that stops taking requests while flow lives (here: a record no flow sends)
    /// still hands flow the reports it could not send yet before it exits.
    @Test func aSupervisorThatStopsOnABadRequestStillSendsTheEndsItHolds() throws {
        let dir = TemporaryDirectory("flow-local-bad-request")
        let supervisor = try StepSupervisor.launch(Self.supervisor, graceSeconds: 2)
        defer { supervisor.finish() }
        let count = Self.moreEndsThanTheSocketHolds
        let gate = dir.path + "/gate"
        #expect(mkfifo(gate, 0o600) == 0)
        let writer = open(gate, O_RDWR | O_CLOEXEC)
        defer { close(writer) }
        for i in 0..<count {
            try supervisor.request(token: i, argv: ["/bin/sh", "-c", "read line < gate"], environment: ["PATH=/usr/bin:/bin"],
                                   directory: dir.path, log: dir.path + "/s\(i).log", held: -1)
            guard case .started(i, let pid, _)? = supervisor.receive(timeout: 20), pid > 0 else {
                Issue.record("step \(i) did not start")
                return
            }
        }
        #expect(Self.release(writer, count))
        #expect(BackgroundFlow.waitUntil(seconds: 60) { Self.children(of: supervisor.pid)?.isEmpty == true }, "the supervisor reaps every step")
        var junk: UInt8 = 1
        #expect(send(supervisor.descriptor, &junk, 1, 0) == 1)
        var ended = 0
        var lost = false
        let deadline = Date().addingTimeInterval(30)
        while !lost && Date() < deadline {
            switch supervisor.receive(timeout: 1) {
            case .ended?: ended += 1
            case .lost?: lost = true
            default: break
            }
        }
        #expect(lost, "the supervisor exits after a bad request")
        #expect(ended == count, "every end reaches flow before the supervisor exits")
    }

    /// flow shuts a supervisor down (a request it could not send) while its steps still run: its
    /// end is read at once, but its loss comes once it has been reaped, and reading does not
    /// wait for that longer than asked (the runner's thread has timeouts and Ctrl-C to see to).
    @Test func aSupervisorShutDownWhileItsStepsEndDoesNotHoldUpTheReader() throws {
        let dir = TemporaryDirectory("flow-local-shut-down")
        let supervisor = try StepSupervisor.launch(Self.supervisor, graceSeconds: 3)
        defer { supervisor.finish() }
        try supervisor.request(token: 1, argv: ["/bin/sh", "-c", "trap '' TERM; : > started; sleep 30"], environment: ["PATH=/usr/bin:/bin"],
                               directory: dir.path, log: dir.path + "/s.log", held: -1)
        guard case .started(1, let pid, _)? = supervisor.receive(timeout: 20), pid > 0 else {
            Issue.record("the step did not start")
            return
        }
        #expect(BackgroundFlow.waitUntil(seconds: 10) { dir.exists("started") })
        supervisor.shutdown()
        // The step ignores SIGTERM: the supervisor lives on through its grace period.
        let first = supervisor.receive(timeout: 0.2)
        #expect(first == nil, "\(String(describing: first))")
        #expect(Self.alive(supervisor.pid), "the supervisor is still ending its step")
        var lost = false
        let deadline = Date().addingTimeInterval(20)
        while !lost && Date() < deadline {
            if case .lost? = supervisor.receive(timeout: 1) { lost = true }
        }
        #expect(lost)
        #expect(!Self.alive(pid), "the step outlived its supervisor")
    }

    /// Ends read in one batch are handed out one by one; meanwhile the local executor counts
    /// as busy, or a router whose other executor has work would stop asking it.
    @Test func aRouterHandsOutEveryLocalEndWhileAnotherExecutorIsBusy() throws {
        let dir = TemporaryDirectory("flow-local-router")
        let local = LocalExecutor(graceSeconds: 2, supervisor: Self.supervisor)
        let cluster = FakeExecutor()
        cluster.hanging = ["remote"]
        let router = ExecutorRouter([.local: { local }, .slurm: { cluster }])
        var remote = Self.process("", in: dir, name: "remote")
        remote.executor = .slurm
        _ = try router.start(remote, token: 100)
        _ = try router.start(Self.process("sleep 0.3", in: dir, name: "a"), token: 1)
        _ = try router.start(Self.process("sleep 0.3", in: dir, name: "b"), token: 2)
        // Both end before the router next asks.
        #expect(BackgroundFlow.waitUntil(seconds: 10) { Self.children(of: local.supervisorPID ?? 0)?.isEmpty == true })
        Thread.sleep(forTimeInterval: 0.2)
        var got: Set<Int> = []
        let deadline = Date().addingTimeInterval(10)
        while got.count < 2 && Date() < deadline {
            if let c = router.next(timeout: 0.1) { got.insert(c.token) }
        }
        #expect(got == [1, 2])
    }

    @Test func theHeldDescriptorKeepsItsLockUntilTheStepEnds() throws {
        let dir = TemporaryDirectory("flow-local-held")
        let executor = LocalExecutor(graceSeconds: 2, supervisor: Self.supervisor)
        let path = dir.path + "/ck.lock"
        func tryLock() -> Bool {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            defer { close(fd) }
            return flock(fd, LOCK_EX | LOCK_NB) == 0
        }
        let held = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        #expect(flock(held, LOCK_EX) == 0)
        let gate = dir.path + "/gate"
        #expect(mkfifo(gate, 0o600) == 0)
        let writer = open(gate, O_RDWR | O_CLOEXEC)
        defer { close(writer) }
        var p = Self.process("touch started; read line < gate", in: dir)
        p.heldDescriptor = held
        _ = try executor.start(p, token: 1)
        close(held)
        #expect(BackgroundFlow.waitUntil(seconds: 10) { dir.exists("started") })
        #expect(!tryLock(), "the step's processes hold the lock")
        #expect(write(writer, "\n", 1) == 1)
        let ends = Self.completions(executor, 1)
        #expect(ends[1]?.termination == .exited(0))
        #expect(BackgroundFlow.waitUntil(seconds: 5) { tryLock() }, "the lock stayed held after the step ended")
    }

    @Test func droppingTheExecutorEndsAndReapsItsSupervisor() throws {
        let dir = TemporaryDirectory("flow-local-drop")
        var executor: LocalExecutor? = LocalExecutor(graceSeconds: 2, supervisor: Self.supervisor)
        _ = try executor?.start(Self.process("echo hi", in: dir), token: 1)
        #expect(Self.completions(try #require(executor), 1)[1]?.termination == .exited(0))
        let pid = try #require(executor?.supervisorPID)
        executor = nil
        // Reaped, not only ended: its CPU time counts among this process's children.
        #expect(!FileManager.default.fileExists(atPath: "/proc/\(pid)"), "the supervisor is still there: \(Self.alive(pid) ? "running" : "a zombie")")
    }

    @Test func aSupervisorThatDiesFailsItsStepsAndTheNextStepStartsANewOne() throws {
        let dir = TemporaryDirectory("flow-local-lost")
        let executor = LocalExecutor(graceSeconds: 2, supervisor: Self.supervisor)
        for i in 0..<3 {
            _ = try executor.start(Self.process("sleep 30 & echo $! > bg\(i).pid; wait", in: dir, name: "s\(i)"), token: i)
        }
        #expect(BackgroundFlow.waitUntil(seconds: 10) { (0..<3).allSatisfy { ((try? dir.read("bg\($0).pid")) ?? "").hasSuffix("\n") } })
        let first = try #require(executor.supervisorPID)
        kill(first, SIGKILL)
        let ends = Self.completions(executor, 3, seconds: 10)
        #expect(ends.count == 3, "steps of a dead supervisor must end, not hang")
        for (_, end) in ends {
            #expect(end.termination == .signaled(SIGKILL))
            #expect(end.failure?.contains("the step supervisor") == true, "\(String(describing: end.failure))")
            #expect(end.failure?.contains("killed by signal 9") == true, "\(String(describing: end.failure))")
        }
        #expect(executor.running == 0)
        // Their commands died with the supervisor; what the commands left, flow killed.
        for i in 0..<3 {
            let background = Int32((try dir.read("bg\(i).pid")).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            #expect(BackgroundFlow.waitUntil(seconds: 5) { !Self.alive(background) }, "step \(i)'s background sleep outlived its supervisor")
        }
        _ = try executor.start(Self.process("echo again", in: dir, name: "again"), token: 10)
        let again = Self.completions(executor, 1)
        #expect(again[10]?.termination == .exited(0))
        #expect(try dir.read("again.log") == "again\n")
        #expect(executor.supervisorPID != first)
    }
}
