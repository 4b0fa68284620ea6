import Foundation
import FlowCore
@testable import FlowRuntime
import FlowTestSupport
import Testing

/// NODE_FAIL, PREEMPTED and OUT_OF_MEMORY cannot be produced on the one-node test Slurm, so
/// their handling is tested here with squeue and sacct output in the formats the client asks
/// for (Tests/FlowEndToEndTests/Fixtures/slurm-squeue.txt, slurm-sacct.txt), answered by a fake
/// in place of the Slurm commands: first the parser, then the executor's poll, then the
/// runner's decisions (retry, fail, resume from a checkpoint).
@Suite struct SlurmStateTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("FlowEndToEndTests/Fixtures").path

    static func fixture(_ name: String) throws -> String {
        try String(contentsOfFile: fixtures + "/" + name, encoding: .utf8)
    }

    @Test func parsesRecordedSqueueAndSacctOutput() throws {
        let queue = SlurmClient.parseQueue(try Self.fixture("slurm-squeue.txt"))
        #expect(queue.count == 8, "the comment line is not a job")
        #expect(queue["5101"] == SlurmClient.JobState(state: "PENDING", reason: "Priority", exitCode: "", node: ""))
        #expect(queue["5102"]?.node == "gpu-a17")
        #expect(queue["5104"]?.state == "NODE_FAIL" && queue["5104"]?.reason == "NodeDown")
        #expect(queue["5105"]?.state == "OUT_OF_MEMORY")
        let accounting = SlurmClient.parseAccounting(try Self.fixture("slurm-sacct.txt"))
        #expect(accounting.count == 7)
        #expect(accounting["4243"] == SlurmClient.JobState(state: "OUT_OF_MEMORY", reason: "", exitCode: "0:125", node: "gpu-a03"))
        #expect(accounting["4246"]?.state == "CANCELLED", "'CANCELLED by 1000' is CANCELLED")
        #expect(accounting["4247"]?.exitCode == "3:0")
        // An older flow's three-field squeue format still parses.
        #expect(SlurmClient.parseQueue("12|RUNNING|None\n")["12"]?.state == "RUNNING")
    }

    struct PollCase: CustomTestStringConvertible, Sendable {
        var job: String
        /// The completion record `flow exec` left, if any: (exit status, signal, signals received).
        var record: (Int32?, Int32?, [Int32])?
        /// nil: still followed after the poll.
        var expected: Termination?
        var finalState: String?
        var testDescription: String { "job \(job) → \(expected.map { "\($0)" } ?? "still active")" }
    }

    static let pollCases: [PollCase] = [
        // Gone from squeue, known to sacct.
        PollCase(job: "4242", record: nil, expected: .scheduler("NODE_FAIL"), finalState: "NODE_FAIL"),
        // The OOM killer took the command: flow exec recorded signal 9 but received none itself.
        PollCase(job: "4243", record: (nil, 9, []), expected: .scheduler("OUT_OF_MEMORY"), finalState: "OUT_OF_MEMORY"),
        // Preemption: SIGTERM, the command exited 143; Slurm's state is the better report.
        PollCase(job: "4244", record: (143, nil, [15]), expected: .scheduler("PREEMPTED"), finalState: "PREEMPTED"),
        PollCase(job: "4245", record: nil, expected: .scheduler("TIMEOUT"), finalState: "TIMEOUT"),
        PollCase(job: "4246", record: nil, expected: .scheduler("CANCELLED"), finalState: "CANCELLED"),
        // The command trapped SIGTERM and exited 0, but the job was cancelled: not a result.
        PollCase(job: "4246", record: (0, nil, [15]), expected: .scheduler("CANCELLED"), finalState: "CANCELLED"),
        // Exit 0 after only the checkpoint warning, Slurm's TIMEOUT came after: the result stands.
        PollCase(job: "4245", record: (0, nil, [10]), expected: .exited(0), finalState: "COMPLETED"),
        // A plain failure: the record's exit status decides.
        PollCase(job: "4247", record: (3, nil, []), expected: .exited(3), finalState: "FAILED"),
        PollCase(job: "4248", record: nil, expected: .failedToStart("job 4248 ended without a completion record (is flow reachable from the node?)"),
                 finalState: "COMPLETED"),
        // Still listed by squeue.
        PollCase(job: "5104", record: nil, expected: .scheduler("NODE_FAIL"), finalState: "NODE_FAIL"),
        PollCase(job: "5105", record: nil, expected: .scheduler("OUT_OF_MEMORY"), finalState: "OUT_OF_MEMORY"),
        PollCase(job: "5106", record: (nil, 15, [15]), expected: .scheduler("PREEMPTED"), finalState: "PREEMPTED"),
        PollCase(job: "5108", record: (1, nil, []), expected: .exited(1), finalState: "FAILED"),
        // Not over: pending, running, completing, requeued by Slurm after a node failure.
        PollCase(job: "5101", record: nil, expected: nil, finalState: nil),
        PollCase(job: "5102", record: nil, expected: nil, finalState: nil),
        PollCase(job: "5103", record: nil, expected: nil, finalState: nil),
        PollCase(job: "5107", record: nil, expected: nil, finalState: nil),
    ]

    @Test(arguments: pollCases) func pollReportsEachSlurmState(_ c: PollCase) throws {
        let dir = TemporaryDirectory("flow-slurm-state")
        let slurm = try FakeSlurm()
        let executor = SlurmExecutor(client: slurm.client, settings: .init(jobsDirectory: dir.path + "/jobs", flowExecutable: "flow",
                                                                            workflowName: "w", pollInterval: 0.05))
        if let (exit, signal, received) = c.record {
            try SlurmCompletionRecord(job: c.job, step: "train", exitStatus: exit, signal: signal, signalsReceived: received,
                                      started: 0, ended: 1, node: "gpu-a17", outputs: [:])
                .write(to: SlurmCompletionRecord.path(executor.recordPattern(step: "train"), job: c.job))
        }
        executor.follow(jobID: c.job, step: "train", token: 7)
        executor.poll()
        let done = executor.next(timeout: 0)
        #expect(done?.termination == c.expected)
        #expect(executor.finalStates[7] == c.finalState)
        if c.expected == nil {
            let squeue = SlurmClient.parseQueue(try Self.fixture("slurm-squeue.txt"))
            #expect(executor.state(token: 7)?.state == squeue[c.job]?.state)
            #expect(executor.state(token: 7)?.node == squeue[c.job]?.node)
        }
    }

    @Test func whenSlurmCannotBeAskedTheJobIsStillFollowed() throws {
        let dir = TemporaryDirectory("flow-slurm-state")
        let client = SlurmClient { tool, _ in SlurmClient.Output(status: 1, stdout: "", stderr: "\(tool): error: Unable to contact slurm controller (connect failure)") }
        let executor = SlurmExecutor(client: client, settings: .init(jobsDirectory: dir.path + "/jobs", flowExecutable: "flow", workflowName: "w"))
        executor.follow(jobID: "77", step: "train", token: 1)
        executor.poll()
        #expect(executor.next(timeout: 0) == nil)
        #expect(executor.running == 1)
        #expect("\(executor.lastError.map { "\($0)" } ?? "")".contains("Unable to contact slurm controller"))
    }
}

/// Slurm's commands answered in-process: sbatch hands out the planned job ids in turn; a
/// planned job either "runs" (the fake writes its outputs and completion record at once) or,
/// after two polls that find it RUNNING (and let it write to its checkpoint directory), is
/// answered with its line from the recorded squeue output, else from the recorded sacct output.
final class FakeSlurm: @unchecked Sendable {
    enum Fate {
        /// Ends as the fixtures say; `checkpoint` writes a checkpoint while it runs.
        case recorded(checkpoint: Bool)
        /// Succeeds, writing these files (given the script and its checkpoint directory).
        case succeeds((_ checkpoint: String?) -> [String: String])
    }

    var plan: [(id: String, fate: Fate)] = []
    private(set) var submitted: [String] = []
    /// Polls each planned job has answered RUNNING to.
    private var polls: [String: Int] = [:]
    private var checkpoints: [String: String] = [:]
    private var scripts: [String: String] = [:]
    let queue: [String: String]
    let accounting: [String: String]

    init() throws {
        func lines(_ name: String) throws -> [String: String] {
            var result: [String: String] = [:]
            for line in try SlurmStateTests.fixture(name).split(separator: "\n") where !line.hasPrefix("#") {
                result[String(line.split(separator: "|")[0])] = String(line)
            }
            return result
        }
        queue = try lines("slurm-squeue.txt")
        accounting = try lines("slurm-sacct.txt")
    }

    var client: SlurmClient { SlurmClient { [self] tool, args in try answer(tool, args) } }

    func answer(_ tool: String, _ args: [String]) throws -> SlurmClient.Output {
        let ids = args.firstIndex(of: "-j").map { args[$0 + 1].split(separator: ",").map(String.init) } ?? []
        switch tool {
        case "sbatch":
            return try submit(script: args.last ?? "")
        case "squeue" where args.contains("-n"):
            // By name, with the script path: every job submitted here.
            return .init(status: 0, stdout: submitted.map { id in
                let done: Bool
                if case .succeeds? = plan.first(where: { $0.id == id })?.fate { done = true } else { done = false }
                return "\(id)|\(done ? "COMPLETED" : "RUNNING")|\(scripts[id] ?? "")\n"
            }.joined(), stderr: "")
        case "squeue":
            var out = ""
            for id in ids {
                if case .recorded(let checkpoint)? = plan.first(where: { $0.id == id })?.fate, polls[id, default: 0] < 2 {
                    polls[id, default: 0] += 1
                    // Written at the second poll: file times lag the clock by a few ms, and a checkpoint
                    // must be newer than the job's submission to count.
                    if checkpoint, polls[id] == 2, let dir = checkpoints[id] {
                        try "step 7\n".write(toFile: dir + "/state", atomically: true, encoding: .utf8)
                    }
                    out += "\(id)|RUNNING|None|gpu-a17\n"
                } else if let line = queue[id] {
                    out += line + "\n"
                }
            }
            if out.isEmpty { return .init(status: 1, stdout: "", stderr: "slurm_load_jobs error: Invalid job id specified\n") }
            return .init(status: 0, stdout: out, stderr: "")
        case "sacct":
            return .init(status: 0, stdout: ids.compactMap { accounting[$0] }.map { $0 + "\n" }.joined(), stderr: "")
        default:
            return .init(status: 0, stdout: "", stderr: "")
        }
    }

    func submit(script path: String) throws -> SlurmClient.Output {
        guard submitted.count < plan.count else { return .init(status: 1, stdout: "", stderr: "sbatch: error: no more jobs planned") }
        let (id, fate) = plan[submitted.count]
        submitted.append(id)
        let script = try String(contentsOfFile: path, encoding: .utf8)
        scripts[id] = path
        let checkpoint = script.split(separator: "\n").first { $0.hasPrefix("export FLOW_CHECKPOINT_DIR=") }
            .map { String($0.dropFirst("export FLOW_CHECKPOINT_DIR=".count)).trimmingCharacters(in: CharacterSet(charactersIn: "'")) }
        checkpoints[id] = checkpoint
        if case .succeeds(let files) = fate {
            let words = script.split(separator: "\n").last { $0.hasPrefix("exec ") }?.split(separator: " ").map(String.init) ?? []
            let chdir = script.split(separator: "\n").first { $0.hasPrefix("#SBATCH --chdir=") }.map { String($0.dropFirst(16)) } ?? ""
            for (file, text) in files(checkpoint) { try text.write(toFile: chdir + "/" + file, atomically: true, encoding: .utf8) }
            let pattern = words.firstIndex(of: "--record").map { words[$0 + 1] } ?? ""
            try SlurmCompletionRecord(job: id, step: "", exitStatus: 0, signal: nil, signalsReceived: [], started: 0, ended: 1,
                                      node: "gpu-a17", outputs: [:]).write(to: SlurmCompletionRecord.path(pattern, job: id))
        }
        return .init(status: 0, stdout: id + "\n", stderr: "")
    }
}

/// The runner's decisions on those states: retried as the step's `retry` says, reported with
/// the Slurm state, and a checkpointed step that was preempted after writing its checkpoint
/// resubmitted to resume (without using up a retry).
@Suite struct SlurmDecisionTests {
    struct Outcome {
        var summary: RunSummary
        var transcript: String
        var submitted: [String]
        var dir: TemporaryDirectory
    }

    func run(_ dag: String, _ plan: [(String, FakeSlurm.Fate)]) throws -> Outcome {
        let dir = TemporaryDirectory("flow-slurm-decide")
        try dir.write("flow.dag", dag)
        let context = try RunContext(root: dir.path, cacheDirectory: nil)
        let workflow = try WorkflowLoader(workspace: context.workspace, ops: FakeOps()).load(file: "flow.dag")
        let slurm = try FakeSlurm()
        slurm.plan = plan.map { (id: $0.0, fate: $0.1) }
        let executor = ExecutorRouter([.local: { LocalExecutor() }, .slurm: {
            SlurmExecutor(client: slurm.client, settings: .init(jobsDirectory: context.cacheDirectory + "/jobs", flowExecutable: "flow",
                                                                workflowName: "flow", pollInterval: 0.05))
        }])
        var options = RunOptions()
        options.executor = .slurm
        let transcript = TranscriptReporter()
        let summary = try Runner(context: context, workflow: workflow, options: options, executor: executor, reporter: transcript).run()
        return Outcome(summary: summary, transcript: transcript.text, submitted: slurm.submitted, dir: dir)
    }

    static let train = """
        step train
          out build/model.txt
          run echo trained > {out}

        """

    @Test func nodeFailIsRetriedAsTheStepSays() throws {
        let o = try run(Self.train + "  retry 1\n", [("4242", .recorded(checkpoint: false)), ("9001", .succeeds { _ in ["build/model.txt": "trained\n"] })])
        #expect(o.summary.count(.ran) == 1, "\(o.transcript)")
        #expect(o.transcript.contains("train failed (Slurm job 4242 ended NODE_FAIL); retrying (attempt 2 of 2)"), "\(o.transcript)")
        #expect(o.submitted == ["4242", "9001"])
        #expect(try o.dir.read("build/model.txt") == "trained\n")
    }

    @Test func outOfMemoryWithoutRetryFailsWithItsState() throws {
        let o = try run(Self.train, [("5105", .recorded(checkpoint: false))])
        #expect(o.summary.failed)
        #expect(o.transcript.contains("FAILED train: Slurm job 5105 ended OUT_OF_MEMORY"), "\(o.transcript)")
        #expect(o.submitted == ["5105"])
    }

    @Test func preemptedCheckpointedStepResumesInANewJob() throws {
        let o = try run(Self.train + "  checkpoint\n", [
            ("4244", .recorded(checkpoint: true)),
            ("9002", .succeeds { checkpoint in
                let state = checkpoint.flatMap { try? String(contentsOfFile: $0 + "/state", encoding: .utf8) } ?? "nothing\n"
                return ["build/model.txt": "resumed from " + state]
            }),
        ])
        #expect(o.summary.count(.ran) == 1, "\(o.transcript)")
        #expect(o.transcript.contains("Slurm job 4244 ended PREEMPTED after writing a checkpoint; submitting a new job to resume from it"), "\(o.transcript)")
        #expect(!o.transcript.contains("retrying"), "a resume is not a retry: \(o.transcript)")
        #expect(o.submitted == ["4244", "9002"])
        #expect(try o.dir.read("build/model.txt") == "resumed from step 7\n")
        // The checkpoint goes once the step has succeeded.
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: o.dir.path + "/cache/checkpoints")) ?? []).isEmpty)
    }

    @Test func preemptedBeforeAnyCheckpointFailsWithoutRetry() throws {
        let o = try run(Self.train + "  checkpoint\n", [("5106", .recorded(checkpoint: false))])
        #expect(o.summary.failed)
        #expect(o.transcript.contains("FAILED train: Slurm job 5106 ended PREEMPTED"), "\(o.transcript)")
        #expect(o.submitted == ["5106"])
    }
}

/// A flow killed between `sbatch` and its journal entry: the next run finds the job by its
/// script and adopts it rather than submitting the step a second time.
@Suite struct SlurmRecoveryTests {
    @Test func aJobTheJournalMissedIsFoundByItsScriptAndAdopted() throws {
        let dir = TemporaryDirectory("flow-slurm-recover")
        try dir.write("flow.dag", SlurmDecisionTests.train)
        let context = try RunContext(root: dir.path, cacheDirectory: nil)
        let workflow = try WorkflowLoader(workspace: context.workspace, ops: FakeOps()).load(file: "flow.dag")
        let slurm = try FakeSlurm()
        slurm.plan = [(id: "4300", fate: .succeeds { _ in ["build/model.txt": "trained\n"] })]
        let settings = SlurmExecutor.Settings(jobsDirectory: context.cacheDirectory + "/jobs", flowExecutable: "flow",
                                              workflowName: "flow", pollInterval: 0.05)
        // Run 1 submits the job as the runner would, then dies before journaling its id.
        let run1 = try context.state.beginRun(command: "flow run", dag: "flow.dag", variables: [:])
        let id = workflow.order[0]
        let key = try #require(Evaluator(workflow: workflow, workspace: context.workspace, store: context.store, actions: context.actions,
                                         records: [:]).evaluate(id, forced: false).key)
        try FileManager.default.createDirectory(atPath: dir.path + "/.flow/logs/1", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.path + "/build", withIntermediateDirectories: true)
        let p = ProcessDescription(step: "train", argv: ["/bin/sh", "-c", "echo trained > build/model.txt"], environment: ["FLOW_RUN": "\(run1)"],
                                   workingDirectory: context.workspace.root, resources: Resources(), gpus: [], logPath: dir.path + "/.flow/logs/1/train.log",
                                   timeout: 0, attempt: 1, executor: .slurm, actionKey: key.hex)
        #expect(try SlurmExecutor(client: slurm.client, settings: settings).start(p, token: 0) == "4300")

        let transcript = TranscriptReporter()
        var options = RunOptions()
        options.executor = .slurm
        let summary = try Runner(context: context, workflow: workflow, options: options,
                                 executor: ExecutorRouter([.local: { LocalExecutor() }, .slurm: { SlurmExecutor(client: slurm.client, settings: settings) }]),
                                 reporter: transcript).run()
        #expect(summary.count(.ran) == 1, "\(transcript.text)")
        #expect(transcript.text.contains("train: found Slurm job 4300, submitted by run 1 just before that flow was stopped"), "\(transcript.text)")
        #expect(transcript.text.contains("reattached to Slurm job 4300"), "\(transcript.text)")
        #expect(slurm.submitted == ["4300"], "submitted twice")
    }
}
