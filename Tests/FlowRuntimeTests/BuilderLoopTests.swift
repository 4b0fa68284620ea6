import Foundation
import FlowCore
@testable import FlowRuntime
import FlowTestSupport
import Glibc
import Testing

/// An executor that runs nothing: a started step "ends" at the executor's next call, having
/// written each declared output itself, unless it is told to fail or to hang until signalled.
/// It is the third `StepExecutor` (beside the local and Slurm ones), written as one type: the
/// builder loop needs nothing else from it.
final class FakeExecutor: StepExecutor {
    private var processes: [Int: ProcessDescription] = [:]
    private var ended: [Completion] = []
    /// Step names, in the order they were started.
    private(set) var started: [String] = []
    /// The most steps that ran at once.
    private(set) var peak = 0
    /// Signals sent, as "STEP SIGNAL".
    private(set) var signalled: [String] = []
    /// How many times each step fails (exit 1) before it succeeds.
    var failures: [String: Int] = [:]
    /// Steps that run until they are signalled.
    var hanging: Set<String> = []

    var running: Int { processes.count }

    func start(_ process: ProcessDescription, token: Int) throws -> String {
        processes[token] = process
        started.append(process.step)
        peak = max(peak, processes.count)
        return "fake-\(token)"
    }

    func next(timeout: Double) -> Completion? {
        if !ended.isEmpty { return ended.removeFirst() }
        guard let token = processes.keys.sorted().first(where: { !hanging.contains(processes[$0]!.step) }) else {
            Thread.sleep(forTimeInterval: min(timeout, 0.01))
            return nil
        }
        let p = processes.removeValue(forKey: token)!
        if failures[p.step, default: 0] > 0 {
            failures[p.step]! -= 1
            return Completion(token: token, termination: .exited(1))
        }
        for out in p.outputs {
            _ = FileManager.default.createFile(atPath: p.workingDirectory + "/" + out, contents: Data("\(p.step)\n".utf8))
        }
        return Completion(token: token, termination: .exited(0))
    }

    func signalAll(_ signal: Int32) {
        for token in processes.keys { self.signal(token: token, signal) }
    }

    func signal(token: Int, _ signal: Int32) {
        guard let p = processes[token] else { return }
        signalled.append("\(p.step) \(signal)")
        if signal == SIGTERM || signal == SIGKILL {
            processes[token] = nil
            ended.append(Completion(token: token, termination: .signaled(signal)))
        }
    }
}

/// The builder loop (`Runner`) on a real workspace and cache with the fake executor: results
/// committed and found again, failures skipping what is downstream, retries, timeouts, and the
/// journal of each run.
@Suite struct BuilderLoopTests {
    static let diamond = """
        step a
          out a.txt
          run make-a
        step b
          in a.txt
          out b.txt
          run make-b
        step c
          in a.txt
          out c.txt
          run make-c
        step d
          in b.txt c.txt
          out d.txt
          run make-d

        """

    struct Outcome {
        var summary: RunSummary
        var transcript: [String]
        var context: RunContext
    }

    func run(_ dir: TemporaryDirectory, _ executor: FakeExecutor, jobs: Int = 2, keepGoing: Bool = false) throws -> Outcome {
        let context = try RunContext(root: dir.path, cacheDirectory: nil)
        let workflow = try WorkflowLoader(workspace: context.workspace, ops: FakeOps()).load(file: "flow.dag")
        var options = RunOptions()
        options.jobs = jobs
        options.keepGoing = keepGoing
        let transcript = TranscriptReporter()
        let summary = try Runner(context: context, workflow: workflow, options: options, executor: executor, reporter: transcript).run()
        return Outcome(summary: summary, transcript: transcript.lines, context: context)
    }

    func workspace(_ dag: String) throws -> TemporaryDirectory {
        let dir = TemporaryDirectory("flow-builder")
        try dir.write("flow.dag", dag)
        return dir
    }

    @Test func resultsAreCommittedAndFoundAgain() throws {
        let dir = try workspace(Self.diamond)
        let fake = FakeExecutor()
        let first = try run(dir, fake)
        #expect(first.summary.count(.ran) == 4, "\(first.transcript)")
        #expect(fake.started == ["a", "b", "c", "d"])
        #expect(fake.peak == 2, "b and c run at once")
        #expect(try dir.read("d.txt") == "d\n")

        try FileManager.default.removeItem(atPath: dir.path + "/b.txt")
        let again = FakeExecutor()
        let second = try run(dir, again)
        #expect(again.started.isEmpty, "\(second.transcript)")
        #expect(second.summary.count(.cached) == 3 && second.summary.count(.restored) == 1, "\(second.transcript)")
        #expect(try dir.read("b.txt") == "b\n")
    }

    @Test func aFailureSkipsWhatIsDownstreamAndTheJournalSaysSo() throws {
        let dir = try workspace(Self.diamond)
        let fake = FakeExecutor()
        fake.failures = ["b": 1]
        let o = try run(dir, fake, keepGoing: true)
        #expect(o.summary.failed)
        #expect(o.transcript.contains("d skipped upstream b failed"), "\(o.transcript)")
        #expect(fake.started == ["a", "b", "c"])
        let states = Dictionary(uniqueKeysWithValues: try o.context.state.steps(ofRun: o.summary.runID).map { ($0.step, $0.state) })
        #expect(states == ["a": .succeeded, "b": .failed, "c": .succeeded, "d": .skipped], "\(states)")
    }

    @Test func aRetryRunsTheStepAgain() throws {
        let dir = try workspace(Self.diamond.replacingOccurrences(of: "  run make-b\n", with: "  run make-b\n  retry 1\n"))
        let fake = FakeExecutor()
        fake.failures = ["b": 1]
        let o = try run(dir, fake, jobs: 1)
        #expect(o.summary.count(.ran) == 4, "\(o.transcript)")
        #expect(fake.started == ["a", "b", "b", "c", "d"], "a retry keeps its place")
        #expect(o.transcript.contains { $0.hasPrefix("warning: b failed (exit status 1); retrying (attempt 2 of 2)") }, "\(o.transcript)")
    }

    @Test func aStepPastItsTimeoutIsStoppedThroughTheExecutor() throws {
        let dir = try workspace("step slow\n  out s.txt\n  run wait-forever\n  timeout 1\n")
        let fake = FakeExecutor()
        fake.hanging = ["slow"]
        let o = try run(dir, fake)
        #expect(o.summary.failed)
        #expect(fake.signalled == ["slow \(SIGTERM)"])
        #expect(o.transcript.contains("warning: slow exceeded its timeout of 1 s: stopping it"), "\(o.transcript)")
        #expect(o.transcript.contains { $0.hasPrefix("FAILED slow: timed out after 1 s") }, "\(o.transcript)")
    }

    @Test(arguments: [(0.0, "0.0s"), (0.04, "0.0s"), (0.06, "0.1s"), (1.0, "1.0s"), (12.34, "12.3s"), (59.97, "60.0s"),
                      (3601.5, "3601.5s"), (-0.2, "0.0s"), (.nan, "0.0s")])
    func durationsAreShownInTenths(seconds: Double, shown: String) {
        #expect(Runner.tenths(seconds) == shown)
    }
}
