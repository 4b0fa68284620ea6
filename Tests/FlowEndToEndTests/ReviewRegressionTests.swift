import Foundation
import FlowTestSupport
import Testing

/// Bugs a review and a side-by-side use found in the handling of vanished outputs, produced-file
/// fan-outs, checkpoint locks and manifests: each reproduced here first.
@Suite struct ReviewRegressionTests {
    @Test func aGatherBeforeAProducedFileFanOutRunsInOneRunWithItsOwnAttempts() throws {
        let dir = TemporaryDirectory("flow-regress")
        try dir.write("flow.dag", """
            step gen[i in 0..<2]
              out parts/p{i}.txt
              run echo {i} > {out}
            step join
              in  gen[*]
              out all.txt
              run cat {in} > {out}
            step split
              in  all.txt
              out by/
              run mkdir -p by && echo x > by/a.txt && echo y > by/b.txt
            step per[f in by/*.txt]
              in  {f}
              out st/{f.stem}.txt
              retry 1
              run echo "attempt $FLOW_ATTEMPT" >> tries.log; wc -c < {f} > {out}
            """)
        let r = try FlowBinary.run(["run"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        #expect(dir.exists("st/a.txt") && dir.exists("st/b.txt"), "\(r)")
        #expect(try dir.read("tries.log") == "attempt 1\nattempt 1\n")
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        let check = try FlowBinary.run(["status", "--check"], in: dir.path)
        #expect(check.status == 0 && check.stdout.contains("per[by/a.txt]"), "the snapshot hid steps: \(check)")
    }

    @Test func explainAgreesWithStatusWhenAnOutputIsOrphaned() throws {
        let dir = TemporaryDirectory("flow-regress")
        try dir.write("flow.dag", "let n = 3\nstep gen[i in 0..<{n}]\n  out parts/p{i}.txt\n  run echo {i} > {out}\nstep join\n  in parts/\n  out all.txt\n  run cat parts/* > {out}\n")
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        let explain = try FlowBinary.run(["explain", "join", "--set", "n=2"], in: dir.path)
        #expect(explain.stdout.contains("state:   stale"), "\(explain)")
    }

    @Test func twoWorkflowsInOneWorkspaceKeepEachOthersOutputs() throws {
        let dir = TemporaryDirectory("flow-regress")
        try dir.write("train.dag", "step train\n  out runs/train/model.bin\n  run echo w > {out}\n")
        try dir.write("eval.dag", "step evalset\n  out runs/eval/set.txt\n  run echo e > {out}\n")
        #expect(try FlowBinary.run(["run", "-q", "train.dag"], in: dir.path).status == 0)
        let r = try FlowBinary.run(["run", "eval.dag"], in: dir.path)
        #expect(r.status == 0 && !r.stdout.contains("removed"), "\(r)")
        #expect(dir.exists("runs/train/model.bin"))
        #expect(try FlowBinary.run(["status", "--check", "eval.dag"], in: dir.path).status == 0)
    }

    @Test func aCheckpointLockThatCannotBeMadeDoesNotHangTheRun() throws {
        let dir = TemporaryDirectory("flow-regress")
        try dir.write("flow.dag", "step a\n  out a.txt\n  checkpoint\n  run echo a > {out}\n")
        try dir.write("cache/checkpoints", "a file where the checkpoints directory goes\n")
        let flow = try BackgroundFlow(["run"], in: dir.path)
        let finished = BackgroundFlow.waitUntil(seconds: 20) { !flow.process.isRunning }
        if !finished { flow.signal(SIGKILL) }
        let r = flow.wait()
        #expect(finished, "the run hung: \(r)")
        #expect(r.stderr.contains("checkpoint"), "\(r)")
    }

    @Test func anInputThatChangesWhileTheStepWaitsIsNeverCachedUnderTheOldKey() throws {
        let dir = TemporaryDirectory("flow-regress")
        try dir.write("flow.dag", "step a\n  out a.txt\n  run sleep 1.5; echo a > {out}\nstep b\n  in b.txt\n  out bo.txt\n  run cat {in} > {out}\n")
        try dir.write("b.txt", "old\n")
        let flow = try BackgroundFlow(["run", "-j", "1"], in: dir.path)
        usleep(600_000)
        try dir.write("b.txt", "new\n")
        _ = flow.wait()
        try dir.write("b.txt", "old\n")
        let again = try FlowBinary.run(["run", "-j", "1"], in: dir.path)
        #expect(again.status == 0, "\(again)")
        #expect(try dir.read("bo.txt") == "old\n", "the result of 'new' was cached under the key of 'old'")
    }

    @Test func cleanOfAStepLeavesOrphansAlone() throws {
        let dir = TemporaryDirectory("flow-regress")
        try dir.write("flow.dag", "let n = 3\nstep f[i in 0..<{n}]\n  out feat/{i}.txt\n  run echo {i} > {out}\nstep other\n  out other.txt\n  run echo o > {out}\n")
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        let r = try FlowBinary.run(["clean", "-n", "--set", "n=2", "other"], in: dir.path)
        #expect(r.stdout.contains("other.txt") && !r.stdout.contains("feat/2.txt"), "\(r)")
    }

    @Test func aSettingWithANewlineIsRefused() throws {
        let dir = TemporaryDirectory("flow-regress")
        try dir.write("flow.dag", "let p = gpu\nstep s\n  out o\n  partition {p}\n  run true\n")
        let r = try FlowBinary.run(["status", "--set", "p=gpu\nrm -rf ~"], in: dir.path)
        #expect(r.status == 65 && r.stderr.contains("'partition' has a control character"), "\(r)")
    }

    @Test func aManifestWhoseEntriesNestInEachOtherIsCorrupt() throws {
        let dir = TemporaryDirectory("flow-regress")
        try dir.write("flow.dag", "step s\n  out d/\n  run mkdir -p d && echo x > d/a\n")
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        let actions = dir.path + "/cache/actions"
        let manifest = try FileManager.default.subpathsOfDirectory(atPath: actions)
            .map { actions + "/" + $0 }.first { (try? String(contentsOfFile: $0, encoding: .utf8))?.hasPrefix("flow-manifest") == true }!
        let text = try String(contentsOfFile: manifest, encoding: .utf8)
        let entry = text.split(separator: "\n").first { $0.hasPrefix("entry\ta\t") }!
        try text.replacingOccurrences(of: "end\n", with: entry.replacingOccurrences(of: "entry\ta\t", with: "entry\ta/b\t") + "\nend\n")
            .write(toFile: manifest, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: dir.path + "/d")
        let r = try FlowBinary.run(["run"], in: dir.path)
        #expect(r.status == 0 && r.stderr.contains("corrupt"), "\(r)")
        #expect(try dir.read("d/a") == "x\n")
    }
}
