import Foundation
import FlowTestSupport
import Testing

/// Interrupted runs lose nothing: kill flow at random moments, resume, and compare with a run
/// that was never interrupted; Ctrl-C with a grace period; locking; a shared cache; corruption.
@Suite(.serialized) struct EngineResumeTests {
    /// About 30 steps: 12 sources, 6 pairs, 6 normalizations, 2 checkpointed "training" steps,
    /// 3 independent steps and a report. Every step logs `start NAME` to ran.log; training logs
    /// the iteration it starts from, and keeps its position in FLOW_CHECKPOINT_DIR.
    static let dag = #"""
        let iters = 12
        step gen[i in 0..<12]
          out gen/{i}.txt
          run echo "start {step}" >> ran.log; sleep 0.0{i}; seq 1 {i}00 | cksum > {out}
        step pair[i in 0..<6]
          in gen/0.txt gen/1.txt gen/2.txt gen/3.txt gen/4.txt gen/5.txt
          out pair/{i}.txt
          run echo "start {step}" >> ran.log; sleep 0.1; cat {in} | cksum > {out}; echo {i} >> {out}
        step norm[i in 0..<6]
          in pair/{i}.txt
          out norm/{i}.txt
          run echo "start {step}" >> ran.log; tr 0-9 a-j < {in} > {out}
        step train[j in 0..<2]
          in norm/0.txt norm/1.txt norm/2.txt norm/3.txt norm/4.txt norm/5.txt
          out model/{j}.txt
          checkpoint
          run sh train.sh {iters} {j} {out}
        step misc[k in 0..<3]
          out misc/{k}.txt
          run echo "start {step}" >> ran.log; echo misc {k} > {out}
        step report
          in model/0.txt model/1.txt misc/0.txt gen/11.txt
          out report.txt
          run echo "start {step}" >> ran.log; cat {in} > {out}
        """#

    /// A "training" loop: resumes from the checkpoint, writes it atomically after every
    /// iteration, and on SIGTERM saves and exits (so a grace period loses nothing).
    static let train = #"""
        iters=$1; j=$2; out=$3; ck="$FLOW_CHECKPOINT_DIR/state"
        k=0; acc=0
        if [ -f "$ck" ]; then read k acc < "$ck"; fi
        echo "start train[$j] from $k" >> ran.log
        trap 'echo "$k $acc" > "$ck.tmp"; mv "$ck.tmp" "$ck"; exit 143' TERM
        while [ "$k" -lt "$iters" ]; do
          sleep 0.05
          next=$(( (acc * 31 + k + j) % 1000003 ))
          # One command: the TERM trap runs between commands, never between k and acc.
          k=$((k + 1)) acc=$next
          echo "$k $acc" > "$ck.tmp"; mv "$ck.tmp" "$ck"
        done
        echo "model $j $acc" > "$out"
        """#

    func workspace(_ prefix: String = "flow-resume") throws -> TemporaryDirectory {
        let dir = TemporaryDirectory(prefix)
        try dir.write("flow.dag", Self.dag)
        try dir.write("train.sh", Self.train)
        return dir
    }

    /// Every output file of the workflow, path → content.
    func outputs(_ dir: TemporaryDirectory) throws -> [String: String] {
        var result: [String: String] = [:]
        for sub in ["gen", "pair", "norm", "model", "misc"] {
            for f in try FileManager.default.contentsOfDirectory(atPath: dir.path + "/" + sub) {
                result[sub + "/" + f] = try dir.read(sub + "/" + f)
            }
        }
        result["report.txt"] = try dir.read("report.txt")
        return result
    }

    /// The iteration recorded in each training checkpoint of the cache.
    func checkpointPositions(_ dir: TemporaryDirectory) -> Set<Int> {
        let root = dir.path + "/cache/checkpoints"
        var result = Set<Int>()
        for key in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] {
            if let text = try? String(contentsOfFile: root + "/" + key + "/state", encoding: .utf8),
               let k = text.split(separator: " ").first.flatMap({ Int($0) }) {
                result.insert(k)
            }
        }
        return result
    }

    func freshSteps(_ dir: TemporaryDirectory) throws -> Set<String> {
        let r = try FlowBinary.run(["status", "--json"], in: dir.path)
        guard let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any],
              let steps = json["steps"] as? [[String: Any]] else { return [] }
        return Set(steps.filter { $0["state"] as? String == "fresh" }.compactMap { $0["step"] as? String })
    }

    func startedSteps(_ log: String) -> [String] {
        log.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("start ") else { return nil }
            return line.dropFirst(6).split(separator: " ").first.map(String.init)
        }
    }

    @Test func killedAtRandomMomentsResumesToIdenticalResults() throws {
        let reference = try workspace("flow-reference")
        let r = try FlowBinary.run(["run", "-j", "2"], in: reference.path)
        #expect(r.status == 0, "\(r)")
        let expected = try outputs(reference)
        #expect(expected.count == 30)

        var generator = SeededGenerator(seed: 20261126)
        let trials = Int(ProcessInfo.processInfo.environment["FLOW_SOAK_TRIALS"] ?? "") ?? 20
        var resumedFromCheckpoint = 0
        for trial in 0..<trials {
            let dir = try workspace()
            var kills = 0
            // Kill at a random moment, up to three times, then let it finish. In odd trials the
            // first kill waits for training to start, so that some kills land inside it even on
            // a slow machine.
            while true {
                try? FileManager.default.removeItem(atPath: dir.path + "/ran.log")
                let committedBefore = try freshSteps(dir)
                let checkpointsBefore = checkpointPositions(dir)
                let flow = try BackgroundFlow(["run", "-j", "2"], in: dir.path)
                if kills < 3 {
                    if kills == 0 && trial % 2 == 1 {
                        _ = BackgroundFlow.waitUntil(seconds: 60) { ((try? dir.read("ran.log")) ?? "").contains("start train[") }
                        usleep(UInt32.random(in: 100_000...500_000, using: &generator))
                    } else {
                        usleep(UInt32.random(in: 50_000...1_200_000, using: &generator))
                    }
                    if flow.process.isRunning {
                        flow.signal(SIGKILL)
                        kills += 1
                    }
                }
                let result = flow.wait()
                let log = (try? dir.read("ran.log")) ?? ""
                let rerun = Set(startedSteps(log)).intersection(committedBefore)
                #expect(rerun.isEmpty, "trial \(trial): committed steps ran again: \(rerun.sorted())")
                // Training resumes from a checkpoint that was there, never from an invented one.
                for line in log.split(separator: "\n") where line.hasPrefix("start train[") {
                    guard let k = Int(line.split(separator: " ").last ?? ""), k > 0 else { continue }
                    #expect(checkpointsBefore.contains(k), "trial \(trial): \(line), checkpoints were \(checkpointsBefore)")
                    resumedFromCheckpoint += 1
                }
                if result.status == 0 { break }
                // Wait until the supervisor of the killed run has cleaned up its steps.
                #expect(BackgroundFlow.waitUntil(seconds: 10) { ProcessScan.pids(inDirectory: dir.path).isEmpty },
                        "trial \(trial): step processes outlived flow: \(ProcessScan.pids(inDirectory: dir.path))")
                #expect(result.status == SIGKILL, "trial \(trial): \(result)")
            }
            #expect(try outputs(dir) == expected, "trial \(trial)")
            let verify = try FlowBinary.run(["verify"], in: dir.path)
            #expect(verify.status == 0, "trial \(trial): \(verify)")
        }
        // With a dozen kills spread over the run, some land inside training; those resume.
        #expect(resumedFromCheckpoint > 0, "no trial resumed training from a checkpoint")
    }

    @Test func ctrlCGivesStepsTheGracePeriodAndTheyResumeFromTheirCheckpoint() throws {
        let dir = try workspace()
        try dir.write("flow.dag", Self.dag.replacingOccurrences(of: "let iters = 12", with: "let iters = 150"))
        let flow = try BackgroundFlow(["run", "-j", "2", "--grace", "5", "train[0]"], in: dir.path)
        #expect(BackgroundFlow.waitUntil(seconds: 60) { ((try? dir.read("ran.log")) ?? "").contains("start train[0] from 0") })
        usleep(500_000)
        flow.signal(SIGINT)
        let result = flow.wait()
        #expect(result.status == 130, "\(result)")
        #expect(result.stderr.contains("interrupted"), "\(result)")
        let second = try FlowBinary.run(["run", "-j", "2", "train[0]"], in: dir.path)
        #expect(second.status == 0, "\(second)")
        #expect(second.stdout.contains("resuming run 1"), "\(second)")
        let starts = try dir.read("ran.log").split(separator: "\n").filter { $0.hasPrefix("start train[0]") }
        #expect(starts.count == 2)
        #expect(starts.last.map { !$0.hasSuffix(" from 0") } == true, "\(starts)")
        // The checkpoint is gone once the step's result is committed.
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir.path + "/cache/checkpoints")) ?? []).isEmpty)
    }

    @Test func aStepThatExitsZeroAfterSigtermIsNotCached() throws {
        let dir = TemporaryDirectory("flow-term0")
        // Writes half its output, and on SIGTERM exits 0: a clean exit that is not a result.
        try dir.write("flow.dag", """
            step half
              out out.txt
              run trap 'exit 0' TERM; echo first > {out}; echo started > started; sleep 30 & wait; echo second >> {out}
            """)
        let flow = try BackgroundFlow(["run", "--grace", "5"], in: dir.path)
        #expect(BackgroundFlow.waitUntil(seconds: 20) { dir.exists("started") })
        flow.signal(SIGINT)
        let result = flow.wait()
        #expect(result.status == 130, "\(result)")
        #expect(result.stdout.contains("not cached") || result.stderr.contains("not cached"), "\(result)")
        let status = try FlowBinary.run(["status"], in: dir.path)
        #expect(status.stdout.contains("half") && !status.stdout.contains("fresh "), "\(status)")
    }

    @Test func aSecondRunOfTheWorkspaceIsRefusedOrWaits() throws {
        let dir = TemporaryDirectory("flow-lock")
        try dir.write("flow.dag", "step slow\n  out a.txt\n  run sleep 1.5; echo a > {out}\n")
        let first = try BackgroundFlow(["run"], in: dir.path)
        #expect(BackgroundFlow.waitUntil(seconds: 20) { dir.exists(".flow/lock") && ((try? dir.read(".flow/lock")) ?? "").contains("pid") })
        let refused = try FlowBinary.run(["run"], in: dir.path)
        #expect(refused.status == 75, "\(refused)")
        #expect(refused.stderr.contains("another flow run holds this workspace (pid \(first.pid): "), "\(refused)")
        let status = try FlowBinary.run(["status"], in: dir.path)
        #expect(status.status == 0)
        #expect(status.stdout.contains("in progress"), "\(status)")
        let waiting = try FlowBinary.run(["run", "--wait"], in: dir.path)
        #expect(waiting.status == 0, "\(waiting)")
        #expect(first.wait().status == 0)
    }

    @Test func twoWorkspacesSharingOneCacheBothSucceed() throws {
        let cache = TemporaryDirectory("flow-shared-cache")
        let a = try workspace("flow-ws-a"), b = try workspace("flow-ws-b")
        let env = ["FLOW_CACHE": cache.path]
        let runA = try BackgroundFlow(["run", "-j", "2"], in: a.path, environment: env)
        let runB = try BackgroundFlow(["run", "-j", "2"], in: b.path, environment: env)
        #expect(runA.wait().status == 0)
        #expect(runB.wait().status == 0)
        #expect(try outputs(a) == outputs(b))
        let verify = try FlowBinary.run(["verify", "--cache", cache.path], in: a.path)
        #expect(verify.status == 0, "\(verify)")
        // A third workspace gets everything from the shared cache without running anything.
        let c = try workspace("flow-ws-c")
        let runC = try FlowBinary.run(["run"], in: c.path, environment: env)
        #expect(runC.status == 0)
        #expect(!c.exists("ran.log"), "\(runC)")
    }

    @Test func aCorruptObjectIsDetectedAtRestoreEvictedAndRebuilt() throws {
        let dir = TemporaryDirectory("flow-corrupt")
        try dir.write("flow.dag", "step big\n  out big.bin\n  run head -c 100000 /dev/urandom > big.bin; echo ran >> ran.log\n")
        #expect(try FlowBinary.run(["run"], in: dir.path).status == 0)
        let original = try dir.readData("big.bin")
        // Find the object (incompressible, so stored plain) and flip one byte.
        let objects = dir.path + "/cache/objects"
        var flipped = false
        for sub in try FileManager.default.contentsOfDirectory(atPath: objects) {
            for name in try FileManager.default.contentsOfDirectory(atPath: objects + "/" + sub) {
                let p = objects + "/" + sub + "/" + name
                var data = try Data(contentsOf: URL(fileURLWithPath: p))
                if data == original {
                    chmod(p, 0o644)
                    data[5000] ^= 0xff
                    try data.write(to: URL(fileURLWithPath: p))
                    flipped = true
                }
            }
        }
        #expect(flipped)
        try FileManager.default.removeItem(atPath: dir.path + "/big.bin")
        let r = try FlowBinary.run(["run"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.contains("is corrupt"), "\(r)")
        #expect(try dir.read("ran.log") == "ran\nran\n")
        #expect(try FlowBinary.run(["verify"], in: dir.path).status == 0)
    }

    @Test func verifyReportsAndRemovesCorruption() throws {
        let dir = TemporaryDirectory("flow-verify")
        try dir.write("flow.dag", "step s\n  out s.txt\n  run seq 1 50000 > {out}\n")
        #expect(try FlowBinary.run(["run"], in: dir.path).status == 0)
        let objects = dir.path + "/cache/objects"
        for sub in try FileManager.default.contentsOfDirectory(atPath: objects) {
            for name in try FileManager.default.contentsOfDirectory(atPath: objects + "/" + sub) where name.hasSuffix(".lz4") {
                let p = objects + "/" + sub + "/" + name
                chmod(p, 0o644)
                var data = try Data(contentsOf: URL(fileURLWithPath: p))
                data[data.count / 2] ^= 0x55
                try data.write(to: URL(fileURLWithPath: p))
            }
        }
        let r = try FlowBinary.run(["verify"], in: dir.path)
        #expect(r.status == 1, "\(r)")
        #expect(r.stdout.contains("corrupt object"), "\(r)")
        #expect(r.stdout.contains("incomplete or invalid manifests"), "\(r)")
        #expect(try FlowBinary.run(["verify"], in: dir.path).status == 0)
        #expect(try FlowBinary.run(["status", "--check"], in: dir.path).status == 1)
        #expect(try FlowBinary.run(["run"], in: dir.path).status == 0)
    }

    @Test func gcKeepsWhatFreshStepsNeed() throws {
        let dir = TemporaryDirectory("flow-gc")
        try dir.write("flow.dag", "let v = 1\nstep s\n  out s.txt\n  run echo {v} > {out}\n")
        for v in 1...3 { #expect(try FlowBinary.run(["run", "--set", "v=\(v)"], in: dir.path).status == 0) }
        let gc = try FlowBinary.run(["gc", "--keep-runs", "0"], in: dir.path)
        // The output, two bytes, is inside its manifest: no object goes with the result.
        #expect(gc.stdout.contains("removed 1 results and 0 objects"), "\(gc)")
        // The current definition (v=1) and the last successful one (v=3) survive.
        let r = try FlowBinary.run(["run", "--set", "v=3"], in: dir.path)
        #expect(r.status == 0 && !r.stdout.contains("start s"), "\(r)")
        #expect(try FlowBinary.run(["status", "--check", "--set", "v=3"], in: dir.path).status == 0)
        // v=1 is the workflow's own value: its result was kept too, and comes back without running.
        let back = try FlowBinary.run(["run"], in: dir.path)
        #expect(back.stdout.contains("restored s"), "\(back)")
    }

    @Test func aFullDiskFailsClearlyAndTheRerunCompletes() throws {
        let mount = try Requirement.tmpfs(size: "2m")
        let dir = TemporaryDirectory("flow-full")
        try dir.write("flow.dag", """
            step small
              out small.bin
              run head -c 200000 /dev/urandom > {out}
            step big
              out big.bin
              run head -c 3000000 /dev/urandom > {out}
            """)
        let cache = mount.path + "/cache"
        let full = try FlowBinary.run(["run", "-j", "1", "--cache", cache], in: dir.path)
        #expect(full.status == 1, "\(full)")
        #expect(full.stderr.contains("No space left on device") && full.stderr.contains(mount.path), "\(full)")
        let verify = try FlowBinary.run(["verify", "--cache", cache], in: dir.path)
        #expect(verify.status == 0, "\(verify)")
        // Free space (a bigger file system in the same place), and the rerun completes.
        try mount.remount("size=16m")
        let again = try FlowBinary.run(["run", "--cache", cache], in: dir.path)
        #expect(again.status == 0, "\(again)")
        #expect(try FlowBinary.run(["verify", "--cache", cache], in: dir.path).status == 0)
    }

    @Test func aReadOnlyCacheFailsClearlyAndStillServesWhatItHolds() throws {
        let mount = try Requirement.tmpfs(size: "8m")
        let dir = TemporaryDirectory("flow-ro")
        try dir.write("flow.dag", "let v = 1\nstep s\n  out s.txt\n  run echo {v} > {out}\n")
        let cache = mount.path + "/cache"
        #expect(try FlowBinary.run(["run", "--cache", cache], in: dir.path).status == 0)
        try mount.remount("ro")
        let changed = try FlowBinary.run(["run", "--cache", cache, "--set", "v=2"], in: dir.path)
        #expect(changed.status == 1, "\(changed)")
        #expect(changed.stderr.contains("Read-only file system") && changed.stderr.contains(cache), "\(changed)")
        // What the cache holds still comes back.
        try FileManager.default.removeItem(atPath: dir.path + "/s.txt")
        let cached = try FlowBinary.run(["run", "--cache", cache], in: dir.path)
        #expect(cached.status == 0, "\(cached)")
        #expect(try dir.read("s.txt") == "1\n")
    }
}
