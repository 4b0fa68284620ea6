import Foundation
import FlowTestSupport
import Testing

/// The small things of the daily loop: messages that say what to do, summaries that count what
/// happened, habits from other tools answered with flow's words.
@Suite struct EverydayTests {
    @Test func outsideAFlowProjectTheMessageSaysWhatToDoAndNothingIsCreated() throws {
        let dir = TemporaryDirectory("flow-everyday")
        for command in [["run"], ["status"], ["graph"]] {
            let r = try FlowBinary.run(command, in: dir.path)
            #expect(r.status == 64, "\(r)")
            #expect(r.stderr.contains("no workflow in") && r.stderr.contains("flow.dag"), "\(r)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "flow created files in a directory that is no project")
    }

    @Test(arguments: [
        ("step s\n  input: x\n  out o\n  run true\n", "unknown step attribute 'input:'; flow's is 'in PATH' (no colon)"),
        ("step s\n  shell: true\n  out o\n", "unknown step attribute 'shell:'; flow's is 'run COMMAND' (no colon)"),
        ("rule s:\n", "found 'rule'; flow's is 'step NAME' (no colon)"),
    ])
    func habitsFromOtherToolsGetFlowsWord(dag: String, message: String) throws {
        let (r, _) = try FlowBinary.load(dag)
        #expect(r.status == 65 && r.stderr.contains(message), "\(r)")
    }

    @Test func anOpOptionTypoIsNamedWithASuggestion() throws {
        let dir = TemporaryDirectory("flow-everyday")
        let direct = try FlowBinary.run(["op", "embed", "--modle", "m.safetensors", "--shards", "s.tar", "--out", "e.npy"], in: dir.path)
        #expect(direct.status == 64 && direct.stderr.contains("Unknown option '--modle'. Did you mean '--model'?"), "\(direct)")
        try dir.write("flow.dag", "step s\n  out emb = e.npy\n  out keys = e.keys.txt\n  op embed --modle m --shards s.tar --out {out.emb} --keys {out.keys}\n")
        let loaded = try FlowBinary.run(["status"], in: dir.path)
        #expect(loaded.status == 65 && loaded.stderr.contains("flow.dag:4:12: error: op 'embed': Unknown option '--modle'. Did you mean '--model'?"), "\(loaded)")
    }

    @Test func aStepThatAsksForMoreGPUsThanThereAreIsAnErrorBeforeAnythingRuns() throws {
        let dir = TemporaryDirectory("flow-everyday")
        try dir.write("flow.dag", "step a\n  out a.txt\n  run echo a > {out}\nstep train\n  gpus 2\n  out m.txt\n  run echo m > {out}\n")
        let r = try FlowBinary.run(["run"], in: dir.path, environment: ["FLOW_GPUS": "1"])
        #expect(r.status == 64 && r.stderr.contains("train asks for 2 GPUs, and this machine has 1"), "\(r)")
        #expect(!dir.exists("a.txt"), "something ran")
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path, environment: ["FLOW_GPUS": "2"]).status == 0)
    }

    @Test func quietKeepsTheSummaryAndCtrlCTellsNotStartedFromInterrupted() throws {
        let dir = TemporaryDirectory("flow-everyday")
        try dir.write("flow.dag", "step a[i in 0..<4]\n  out a/{i}\n  run touch started-{i}; sleep 30; echo > {out}\n")
        let quiet = try FlowBinary.run(["run", "-q", "a[0]", "--dry-run"], in: dir.path)
        #expect(quiet.stdout.contains("flow: done:"), "\(quiet)")
        let flow = try BackgroundFlow(["run", "-j", "2", "--grace", "1"], in: dir.path)
        // Two steps running (with -j 2), two waiting.
        #expect(BackgroundFlow.waitUntil(seconds: 30) {
            ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasPrefix("started-") }.count == 2
        })
        usleep(200_000)
        flow.signal(SIGINT)
        let r = flow.wait()
        #expect(r.status == 130, "\(r)")
        #expect(r.stderr.contains("2 interrupted") && r.stderr.contains("2 not started"), "\(r)")
    }

    @Test func logShowsTheResultInTheWorkspaceAndListsAFanOutsInstances() throws {
        let dir = TemporaryDirectory("flow-everyday")
        try dir.write("flow.dag", """
            let C = 1
            step report
              out r.txt
              run echo best C = {C}; echo {C} > {out}
            step train[c in 1, 2]
              out m/{c}.txt
              run echo training {c}; echo {c} > {out}
            """)
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        #expect(try FlowBinary.run(["run", "-q", "--set", "C=10"], in: dir.path).status == 0)
        let back = try FlowBinary.run(["run"], in: dir.path)
        #expect(back.stdout.contains("restored report"), "\(back)")
        let log = try FlowBinary.run(["log", "report"], in: dir.path)
        #expect(log.status == 0 && log.stdout == "best C = 1\n", "the log of run 2 describes another result: \(log)")
        #expect(log.stderr.contains("made by run 1"), "\(log)")
        let base = try FlowBinary.run(["log", "train"], in: dir.path)
        #expect(base.status == 64 && base.stderr.contains("'train' is a fan-out of 2 instances") && base.stderr.contains("flow log 'train[1]'"), "\(base)")
        let unquoted = try FlowBinary.run(["log", "train:2"], in: dir.path)
        #expect(unquoted.status == 0 && unquoted.stdout == "training 2\n", "\(unquoted)")
        #expect(try FlowBinary.run(["run", "-q", "train:1"], in: dir.path).status == 0)
    }

    @Test func gcDryRunSaysWhatItWouldRemove() throws {
        let dir = TemporaryDirectory("flow-everyday")
        try dir.write("flow.dag", "let v = 1\nstep s\n  out o.txt\n  run echo {v} > {out}\n")
        #expect(try FlowBinary.run(["run", "-q", "--set", "v=2"], in: dir.path).status == 0)
        #expect(try FlowBinary.run(["run", "-q", "--set", "v=3"], in: dir.path).status == 0)
        let r = try FlowBinary.run(["gc", "--keep-runs", "0", "--dry-run"], in: dir.path)
        #expect(r.status == 0 && r.stdout.contains("would remove the result of s (key ") && r.stdout.contains("2 B of outputs"), "\(r)")
        #expect(r.stdout.contains("would remove 1 results"), "\(r)")
    }
}
