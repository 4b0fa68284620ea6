import Foundation
import FlowTestSupport
import Glibc
import Testing

/// A single-node Slurm for the tests: started once (tests/slurm/start.sh) in a temporary folder
/// and stopped when the test process exits, or an existing one given by FLOW_TEST_SLURM_CONF.
/// nil, with the reason printed, when Slurm is not installed or cannot be started here.
enum TestSlurm {
    /// Why the test cluster could not be had, once `conf` has been asked.
    nonisolated(unsafe) static var unavailable = ""

    /// Skips the test (visibly; under `make test` fails it) when there is no test cluster.
    static func require(sourceLocation: SourceLocation = #_sourceLocation) throws {
        if conf == nil { try Requirement.unmet("Slurm: \(unavailable)", sourceLocation: sourceLocation) }
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static let conf: String? = {
        if let c = ProcessInfo.processInfo.environment["FLOW_TEST_SLURM_CONF"] { return c }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/slurmctld"),
              FileManager.default.isExecutableFile(atPath: "/usr/sbin/munged") else {
            unavailable = "Slurm is not installed (apt-get install slurm-wlm munge)"
            return nil
        }
        guard getuid() == 0 else {
            unavailable = "the test cluster runs its daemons as root"
            return nil
        }
        let dir = NSTemporaryDirectory() + "flow-slurm-\(getpid())"
        let port = 20000 + Int(getpid() % 5000) * 2
        let script = repository + "/tests/slurm/start.sh"
        guard shell("FLOW_SLURM_PORT=\(port) '\(script)' '\(dir)' > '\(dir).log' 2>&1") == 0 else {
            unavailable = "tests/slurm/start.sh \(dir) failed: \((try? String(contentsOfFile: dir + ".log", encoding: .utf8)) ?? "")"
            return nil
        }
        startedDirectory = strdup(dir)
        atexit {
            guard let d = startedDirectory else { return }
            let dir = String(cString: d)
            _ = TestSlurm.shell("'\(TestSlurm.repository)/tests/slurm/stop.sh' '\(dir)' > /dev/null 2>&1")
            try? FileManager.default.removeItem(atPath: dir)
            try? FileManager.default.removeItem(atPath: dir + ".log")
        }
        return dir + "/slurm.conf"
    }()

    static func shell(_ command: String) -> Int32 { CleanShell.run(command) }

    static var environment: [String: String] {
        ["SLURM_CONF": conf ?? "", "FLOW_SLURM_POLL": "0.3"]
    }

    /// Runs a Slurm command line against the test cluster; returns its stdout.
    static func run(_ command: String) -> String {
        let out = NSTemporaryDirectory() + "flow-slurm-cmd-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = shell("SLURM_CONF='\(conf ?? "")' \(command) > '\(out)' 2>/dev/null")
        return (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
    }

    /// The ids of the jobs named `flow.flow.<step>` that squeue shows pending or running.
    static func activeJobs(step: String) -> [String] {
        run("squeue -h -n flow.flow.\(step) -t PD,R,CG -o %i").split(separator: "\n").map(String.init)
    }
}

nonisolated(unsafe) private var startedDirectory: UnsafeMutablePointer<CChar>?

/// Steps as jobs of a real (single-node) Slurm: completion, failures, kill -9 and reattaching,
/// scancel from outside; Ctrl-C and `flow status` in SlurmInterruptTests.swift.
@Suite(.serialized) struct SlurmTests {
    func workspace(_ dag: String) throws -> TemporaryDirectory {
        let dir = TemporaryDirectory("flow-slurm")
        try dir.write("flow.dag", dag)
        try dir.write("src/a.txt", "alpha\n")
        return dir
    }

    func flow(_ dir: TemporaryDirectory, _ args: [String]) throws -> ProcessResult {
        try FlowBinary.run(args, in: dir.path, environment: TestSlurm.environment)
    }

    func submittedScripts(_ dir: TemporaryDirectory) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path + "/cache/jobs/scripts")) ?? []).sorted()
    }

    /// Starts `flow run` in the background; returns the process.
    func startFlow(_ dir: TemporaryDirectory, _ args: [String] = ["run"]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: FlowBinary.path)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir.path)
        p.environment = ProcessInfo.processInfo.environment.merging(TestSlurm.environment) { $1 }
        // stdout and stderr go to flow.output in the workspace (not an input or output of any step).
        _ = FileManager.default.createFile(atPath: dir.path + "/flow.output", contents: nil)
        let out = try FileHandle(forWritingTo: dir.url("flow.output"))
        p.standardOutput = out
        p.standardError = out
        try p.run()
        return p
    }

    func waitUntil(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(100_000)
        }
        return false
    }

    @Test func stepsRunAsJobsAndAreCacheHitsForALocalRunLater() throws {
        try TestSlurm.require()
        let dir = try workspace("""
            step a
              in  src/a.txt
              out build/a.out
              executor slurm
              mem 100M
              run tr a-z A-Z < {in} > {out}; echo "$SLURM_JOB_ID" > build/a.job
            step b
              in  build/a.out
              out build/b.out
              run cut -c1-3 {in} > {out}
            """)
        let r = try flow(dir, ["run", "--executor", "slurm"])
        #expect(r.status == 0, "\(r)")
        #expect(try dir.read("build/b.out") == "ALP\n")
        // Both ran as Slurm jobs and left completion records.
        #expect(!(try dir.read("build/a.job")).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        #expect(submittedScripts(dir).count == 2)
        let records = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/cache/jobs").filter { $0.hasSuffix(".json") }
        #expect(records.count == 2)
        // A local run afterwards restores both from the cache and runs nothing.
        try FileManager.default.removeItem(atPath: dir.path + "/build")
        let local = try flow(dir, ["run", "--executor", "local"])
        #expect(local.status == 0, "\(local)")
        #expect(local.stdout.contains("2 restored"), "\(local)")
        #expect(submittedScripts(dir).count == 2)
    }

    /// Local steps that end while a Slurm job runs: each end comes back once. (The router asked
    /// the local executor twice for one end, and crashed when there was no second.)
    @Test func localStepsEndWhileASlurmJobRuns() throws {
        try TestSlurm.require()
        let dir = try workspace("""
            step remote
              out build/remote.out
              executor slurm
              run sleep 4; echo remote > {out}
            step l1
              out build/l1.out
              run sleep 1; echo 1 > {out}
            step l2
              out build/l2.out
              run sleep 1; echo 2 > {out}
            step l3
              out build/l3.out
              run sleep 2; echo 3 > {out}
            """)
        let r = try flow(dir, ["run", "-j", "2"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("4 ran"), "\(r)")
        #expect(try dir.read("build/remote.out") == "remote\n")
        for i in 1...3 { #expect(try dir.read("build/l\(i).out") == "\(i)\n") }
    }

    @Test func aFailingJobIsReportedWithItsSlurmStateAndLog() throws {
        try TestSlurm.require()
        let dir = try workspace("""
            step bad
              out build/bad.out
              executor slurm
              run echo "something went wrong on the node"; exit 3
            """)
        let r = try flow(dir, ["run"])
        #expect(r.status == 1, "\(r)")
        let text = r.stdout + r.stderr
        #expect(text.contains("Slurm job"), "\(r)")
        #expect(text.contains("FAILED"), "\(r)")
        #expect(text.contains("exit status 3"), "\(r)")
        #expect(text.contains("something went wrong on the node"), "\(r)")
    }

    @Test func killNineThenRunAgainReattachesWithoutSubmittingTwice() throws {
        try TestSlurm.require()
        let dir = try workspace("""
            step x1
              out build/x1.out
              executor slurm
              run sleep 3; echo 1 > {out}
            step x2
              out build/x2.out
              executor slurm
              run sleep 3; echo 2 > {out}
            step sum
              in  build/x1.out build/x2.out
              out build/sum.out
              executor slurm
              run cat {in} > {out}
            """)
        let first = try startFlow(dir)
        let running = waitUntil(20) { TestSlurm.activeJobs(step: "x1").count + TestSlurm.activeJobs(step: "x2").count == 2 }
        #expect(running)
        // Killed between sbatch and its journal entry (this happens here now and then), flow finds
        // the job by its script: no wait for the journal.
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        #expect(submittedScripts(dir).count == 2)
        let r = try flow(dir, ["run"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("reattached to Slurm job"), "\(r)")
        #expect(try dir.read("build/sum.out") == "1\n2\n")
        // Two jobs of the first flow, adopted, plus the one for `sum`: nothing submitted twice.
        #expect(submittedScripts(dir).count == 3, "\(submittedScripts(dir))")
    }

    /// Slow (about 90 s): Slurm enforces time limits in whole minutes, checked every 30 s.
    @Test func checkpointedStepThatHitsItsTimeLimitResumesInItsNextJob() throws {
        try TestSlurm.require()
        let dir = TemporaryDirectory("flow-slurm-ckpt")
        // Counts seconds into its checkpoint; resumed, it writes the count it found and the warning it got.
        try dir.write("train.sh", """
            c="$FLOW_CHECKPOINT_DIR/state"
            if [ -f "$c" ]; then cat "$c" "$FLOW_CHECKPOINT_DIR/warned" > "$1" 2>/dev/null; echo resumed >> "$1"; exit 0; fi
            trap 'echo usr1 > "$FLOW_CHECKPOINT_DIR/warned"' USR1
            n=0
            while true; do n=$((n+1)); echo "count $n" > "$c.tmp"; mv "$c.tmp" "$c"; sleep 1; done
            """)
        try dir.write("flow.dag", """
            step train
              out build/model.txt
              executor slurm
              checkpoint
              time 1m
              sbatch --signal=B:USR1@50
              run sh train.sh {out}
            """)
        let r = try FlowBinary.run(["run"], in: dir.path, environment: TestSlurm.environment)
        #expect(r.status == 0, "\(r)")
        #expect((r.stdout + r.stderr).contains("ended TIMEOUT after writing a checkpoint"), "\(r)")
        let model = (try? dir.read("build/model.txt")) ?? ""
        #expect(model.contains("count "), "\(model)")
        #expect(model.contains("usr1"), "the job was not warned with SIGUSR1 before its time limit: \(model)")
        #expect(model.contains("resumed"), "\(model)")
    }

    @Test func theJobSeesTheStepsEnvironmentAndNothingOfFlows() throws {
        try TestSlurm.require()
        let dir = try workspace("""
            step show
              out build/env.txt
              env MODEL_SIZE=small
              executor slurm
              run env | sort > {out}
            """)
        var environment = TestSlurm.environment
        environment["FLOW_REMOTE_TOKEN"] = "secret-token"
        environment["SOME_USER_VARIABLE"] = "x"
        let r = try FlowBinary.run(["run"], in: dir.path, environment: environment)
        #expect(r.status == 0, "\(r)")
        let env = (try? dir.read("build/env.txt")) ?? ""
        #expect(env.contains("MODEL_SIZE=small\n") && env.contains("FLOW_STEP=show\n") && env.contains("SLURM_JOB_ID="), "\(env)")
        #expect(!env.contains("secret-token") && !env.contains("SOME_USER_VARIABLE"), "flow's own environment reached the job: \(env)")
    }

    @Test func scancelFromOutsideIsReportedAsCancelled() throws {
        try TestSlurm.require()
        let dir = try workspace("""
            step long
              out build/long.out
              executor slurm
              run sleep 60; touch {out}
            """)
        let p = try startFlow(dir)
        var ids: [String] = []
        #expect(waitUntil(20) { ids = TestSlurm.activeJobs(step: "long"); return !ids.isEmpty })
        _ = TestSlurm.run("scancel " + ids.joined(separator: " "))
        p.waitUntilExit()
        #expect(p.terminationStatus == 1)
        let output = try dir.read("flow.output")
        #expect(output.contains("Slurm job \(ids.first ?? "?") ended CANCELLED"), "\(output)")
    }
}

/// The sbatch script flow generates, checked against a golden file through a fake sbatch that
/// keeps what it is given (needs no Slurm), and a checkpointed step resuming after its time limit.
@Suite struct SlurmScriptTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    /// Fake sbatch, squeue, sacct and scancel: sbatch copies the script beside them and prints job id 4242;
    /// squeue says the job was cancelled, so that the run ends at once.
    func fakeSlurm(_ dir: TemporaryDirectory) throws -> String {
        let bin = dir.path + "/fake-slurm"
        try dir.write("fake-slurm/sbatch", "#!/bin/sh\ncp \"$2\" \"\(bin)/submitted.sh\"\necho 4242\n")
        try dir.write("fake-slurm/squeue", "#!/bin/sh\necho '4242|CANCELLED|None'\n")
        try dir.write("fake-slurm/sacct", "#!/bin/sh\nexit 0\n")
        try dir.write("fake-slurm/scancel", "#!/bin/sh\nexit 0\n")
        for tool in ["sbatch", "squeue", "sacct", "scancel"] { chmod(bin + "/" + tool, 0o755) }
        return bin
    }

    /// The script with what depends on the machine replaced: the workspace, the flow binary, the
    /// variables flow passes on from its own environment.
    static func normalized(_ script: String, workspace: String) -> String {
        let inherited = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TMPDIR", "TERM", "TZ", "SHELL"]
        let resolved = realpath(workspace, nil).map { p in defer { free(p) }; return String(cString: p) } ?? workspace
        return script.replacingOccurrences(of: resolved, with: "@WORKSPACE@")
            .split(separator: "\n", omittingEmptySubsequences: false).compactMap { line -> String? in
                if inherited.contains(where: { line.hasPrefix("export \($0)=") }) { return nil }
                // The action key changes with the key's algorithm, not with the script's.
                if line.hasPrefix("# flow-key ") { return "# flow-key @KEY@" }
                if line.hasPrefix("exec ") {
                    var words = line.split(separator: " ", maxSplits: 2).map(String.init)
                    words[1] = "@FLOW@"
                    return words.joined(separator: " ")
                }
                return String(line)
            }.joined(separator: "\n")
    }

    @Test func gpuStepScriptMatchesGoldenFile() throws {
        let dir = TemporaryDirectory("flow-sbatch")
        try dir.write("flow.dag", """
            step train
              in  src/config.yaml
              out build/model.pt
              executor slurm
              partition gpu
              account dinov2
              qos high
              constraint a100
              sbatch --exclusive --comment=flow
              gpus 2
              cpus 8
              mem 32G
              time 1h30m
              env NCCL_DEBUG=WARN
              run torchrun --nproc_per_node=2 train.py --config {in} --out {out}
            """)
        try dir.write("src/config.yaml", "lr: 0.001\n")
        let bin = try fakeSlurm(dir)
        let r = try FlowBinary.run(["run"], in: dir.path, environment: ["FLOW_SLURM_BIN": bin, "FLOW_SLURM_POLL": "0.1"])
        #expect(r.status == 1, "\(r)")
        #expect((r.stdout + r.stderr).contains("Slurm job 4242 ended CANCELLED"), "\(r)")
        let script = Self.normalized(try dir.read("fake-slurm/submitted.sh"), workspace: dir.path)
        let golden = Self.fixtures + "/slurm-gpu-step.sbatch"
        if ProcessInfo.processInfo.environment["FLOW_UPDATE_GOLDEN"] != nil {
            try script.write(toFile: golden, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOfFile: golden, encoding: .utf8)
        #expect(script == expected, "generated script differs from \(golden):\n\(script)")
        #expect(script.contains("#SBATCH --gres=gpu:2\n"))
        #expect(!script.contains("export CUDA_VISIBLE_DEVICES"), "Slurm sets the GPUs of a job, not flow")
    }

    @Test func checkpointedStepScriptAsksFlowExecToWarnIfSlurmDoesNot() throws {
        let dir = TemporaryDirectory("flow-sbatch-warn")
        try dir.write("flow.dag", """
            step train
              out build/model.pt
              executor slurm
              checkpoint
              time 1h
              sbatch --signal=B:USR1@600
              run touch {out}
            """)
        let bin = try fakeSlurm(dir)
        let r = try FlowBinary.run(["run"], in: dir.path, environment: ["FLOW_SLURM_BIN": bin, "FLOW_SLURM_POLL": "0.1"])
        #expect(r.status == 1, "\(r)")
        let script = try dir.read("fake-slurm/submitted.sh")
        #expect(script.contains("#SBATCH --signal=B:USR1@600\n"), "\(script)")
        #expect(script.contains(" exec --record ") && script.contains(" --warn-after 3000 "), "\(script)")
    }
}

/// `flow exec`'s time-limit warning, without Slurm: the command gets SIGUSR1 once, from Slurm or
/// from flow exec's own timer, and a warning that comes before the command handles it is held.
@Suite struct ExecWarningTests {
    /// A command that records each SIGUSR1 it gets, after `delay` seconds of not handling it.
    func command(_ dir: TemporaryDirectory, delay: Int) throws -> [String] {
        try dir.write("step.sh", """
            sleep \(delay)
            trap 'echo usr1 >> warned' USR1
            echo ready > ready
            i=0; while [ $i -lt 40 ]; do sleep 0.1; i=$((i+1)); done
            """)
        return ["sh", dir.path + "/step.sh"]
    }

    @Test func flowExecWarnsTheStepItselfWhenSlurmDoesNot() throws {
        let dir = TemporaryDirectory("flow-exec-warn")
        let r = try FlowBinary.run(["exec", "--record", dir.path + "/record.json", "--warn-after", "1", "--"]
                                   + command(dir, delay: 0), in: dir.path)
        #expect(r.status == 0, "\(r)")
        #expect((try? dir.read("warned")) == "usr1\n", "the step was not warned once")
    }

    @Test func aWarningSentAsTheJobStartsIsHeldUntilTheStepHandlesIt() throws {
        let dir = TemporaryDirectory("flow-exec-early")
        let p = Process()
        // As the sbatch script starts it: USR1 ignored until flow exec takes it over.
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        let exec = ["exec", "--record", dir.path + "/record.json", "--warn-after", "60", "--"] + (try command(dir, delay: 1))
        p.arguments = ["-c", "trap '' USR1; exec \"$0\" \"$@\"", FlowBinary.path] + exec
        p.currentDirectoryURL = URL(fileURLWithPath: dir.path)
        try p.run()
        // From the start, as Slurm's periodic check may do, and all before the step handles it.
        for _ in 0..<40 { kill(p.processIdentifier, SIGUSR1); usleep(20_000) }
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "flow exec died of an early warning")
        let warned = (try? dir.read("warned")) ?? ""
        #expect(warned.hasPrefix("usr1\n"), "the early warning was lost")
        let record = (try? dir.read("record.json")) ?? ""
        #expect(record.contains("10"), "the record names the signal: \(record)")
    }
}
