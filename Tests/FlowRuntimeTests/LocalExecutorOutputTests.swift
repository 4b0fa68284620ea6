import Foundation
import FlowCore
@testable import FlowRuntime
import FlowTestSupport
import Glibc
import Testing

/// A step's output, which the supervisor moves from a pipe into the step's log: no file when
/// nothing is printed, the order one process wrote, a large output, what a process left by the
/// step writes after its end, a log that cannot be written, and a supervisor that dies while a
/// step writes.
@Suite struct LocalExecutorOutputTests {
    typealias Local = LocalExecutorTests

    @Test func aStepThatPrintsNothingLeavesNoLogFile() throws {
        let dir = TemporaryDirectory("flow-output-none")
        let executor = LocalExecutor(graceSeconds: 2, supervisor: Local.supervisor)
        // The log of an earlier attempt is no log of this one.
        try dir.write("quiet.log", "an earlier attempt\n")
        _ = try executor.start(Local.process("true", in: dir, name: "quiet"), token: 1)
        _ = try executor.start(Local.process("exit 4", in: dir, name: "fails"), token: 2)
        _ = try executor.start(Local.process("printf x", in: dir, name: "one"), token: 3)
        let ends = Local.completions(executor, 3)
        #expect(ends[1]?.termination == .exited(0))
        #expect(ends[2]?.termination == .exited(4))
        #expect(!dir.exists("quiet.log"))
        #expect(!dir.exists("fails.log"))
        #expect(try dir.read("one.log") == "x")
        #expect(StepLog.contents(dir.path + "/quiet.log") == [])
        #expect(StepLog.tail(dir.path + "/quiet.log", lines: 20) == [])
        #expect(StepLog.contents(dir.path + "/no-run/quiet.log") == nil, "no run directory: no log at all")
    }

    @Test func stdoutAndStderrKeepTheOrderTheyWereWrittenIn() throws {
        let dir = TemporaryDirectory("flow-output-order")
        let executor = LocalExecutor(graceSeconds: 2, supervisor: Local.supervisor)
        _ = try executor.start(Local.process("""
            i=0; while [ $i -lt 3000 ]; do echo out $i; echo err $i >&2; i=$((i + 1)); done
            """, in: dir), token: 1)
        let ends = Local.completions(executor, 1)
        #expect(ends[1]?.termination == .exited(0))
        let expected = (0..<3000).map { "out \($0)\nerr \($0)\n" }.joined()
        #expect(try dir.read("s.log") == expected)
    }

    @Test func aHundredMegabytesOfOutputArriveWholeInBoundedMemory() throws {
        let dir = TemporaryDirectory("flow-output-large")
        let executor = LocalExecutor(graceSeconds: 2, supervisor: Local.supervisor)
        // Lines with their number, so that a lost or repeated piece would show.
        _ = try executor.start(Local.process("seq 1 15000000 | tr -d '\\n' | head -c 100000000; echo; echo done >&2", in: dir), token: 1)
        let ends = Local.completions(executor, 1, seconds: 120)
        #expect(ends[1]?.termination == .exited(0))
        let size = FileStat.of(dir.path + "/s.log")?.size ?? 0
        #expect(size == 100_000_000 + 1 + 5)
        #expect(StepLog.tail(dir.path + "/s.log", lines: 1) == ["done"])
        let handle = try #require(FileHandle(forReadingAtPath: dir.path + "/s.log"))
        defer { try? handle.close() }
        #expect(try handle.read(upToCount: 12) == Data("123456789101".utf8))
        // The supervisor moved it with splice or through one buffer: its peak memory stayed far
        // below the output's size.
        let pid = try #require(executor.supervisorPID)
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let peak = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }.flatMap { Int($0.split(separator: " ")[1]) } ?? 0
        #expect(peak > 0 && peak < 32 << 10, "supervisor peak resident memory \(peak) KiB")
    }

    @Test func aProcessLeftByAStepDoesNotDelayItsEndAndStillWritesToItsLog() throws {
        let dir = TemporaryDirectory("flow-output-background")
        let executor = LocalExecutor(graceSeconds: 2, supervisor: Local.supervisor)
        let gate = dir.path + "/gate"
        #expect(mkfifo(gate, 0o600) == 0)
        let writer = open(gate, O_RDWR | O_CLOEXEC)
        defer { close(writer) }
        // It ignores the SIGTERM its group gets when the command ends, and writes only once the
        // test has seen that end. The command ends only once the trap is set: the SIGTERM could
        // otherwise reach the background shell before it (a test that failed under load).
        let command = "(trap '' TERM; : > trapped; read line < gate; echo late) & " +
            "while [ ! -e trapped ]; do sleep 0.01; done; echo early"
        _ = try executor.start(Local.process(command, in: dir), token: 1)
        let ends = Local.completions(executor, 1)
        #expect(ends[1]?.termination == .exited(0))
        #expect(try dir.read("s.log") == "early\n", "everything the command wrote is in the log when its end is reported")
        #expect(write(writer, "\n", 1) == 1)
        #expect(BackgroundFlow.waitUntil(seconds: 10) { (try? dir.read("s.log")) == "early\nlate\n" },
                "\(String(describing: try? dir.read("s.log")))")
        // The next step is not held up by the first one's pipe.
        _ = try executor.start(Local.process("echo next", in: dir, name: "next"), token: 2)
        #expect(Local.completions(executor, 1)[2]?.termination == .exited(0))
        #expect(try dir.read("next.log") == "next\n")
    }

    @Test func aLogThatCannotBeWrittenFailsTheStep() throws {
        let dir = TemporaryDirectory("flow-output-unwritable")
        let executor = LocalExecutor(graceSeconds: 2, supervisor: Local.supervisor)
        var prints = Local.process("echo hi", in: dir)
        prints.logPath = dir.path + "/missing-directory/s.log"
        var silent = Local.process("true", in: dir, name: "quiet")
        silent.logPath = dir.path + "/missing-directory/quiet.log"
        _ = try executor.start(prints, token: 1)
        _ = try executor.start(silent, token: 2)
        let ends = Local.completions(executor, 2)
        #expect(ends[1]?.termination == .exited(0))
        #expect(ends[1]?.failure == "its log \(prints.logPath) could not be written: No such file or directory")
        #expect(ends[2]?.termination == .exited(0))
        #expect(ends[2]?.failure == nil, "nothing to write, nothing lost")
    }

    @Test func aSupervisorThatDiesWhileAStepWritesLeavesAPrefixOfItsOutput() throws {
        let dir = TemporaryDirectory("flow-output-lost")
        let executor = LocalExecutor(graceSeconds: 2, supervisor: Local.supervisor)
        _ = try executor.start(Local.process("yes line", in: dir), token: 1)
        #expect(BackgroundFlow.waitUntil(seconds: 10) { (FileStat.of(dir.path + "/s.log")?.size ?? 0) > 1 << 20 })
        let first = try #require(executor.supervisorPID)
        kill(first, SIGKILL)
        let ends = Local.completions(executor, 1, seconds: 10)
        #expect(ends[1]?.termination == .signaled(SIGKILL), "a writer of a dead supervisor's pipe must end, not hang")
        #expect(ends[1]?.failure?.contains("the step supervisor") == true)
        let log = try #require(StepLog.contents(dir.path + "/s.log"))
        let line = Array("line\n".utf8)
        #expect(log.enumerated().allSatisfy { $0.element == line[$0.offset % line.count] }, "the log is a prefix of what was written")
        _ = try executor.start(Local.process("echo again", in: dir, name: "again"), token: 2)
        #expect(Local.completions(executor, 1)[2]?.termination == .exited(0))
        #expect(try dir.read("again.log") == "again\n")
    }
}
