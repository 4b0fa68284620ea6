import Foundation
import FlowTestSupport
import Testing

/// Kills at the moments that used to fail, gc during runs, two workspaces on one checkpoint:
/// whatever happens, no step outlives flow, no committed result loses an object, and nothing
/// half-written is left where a step would read it. `make soak` repeats them many more times.
@Suite(.serialized) struct ResilienceTests {
    static var rounds: Int { Int(ProcessInfo.processInfo.environment["FLOW_SOAK_TRIALS"] ?? "") ?? 6 }

    @Test func noStepOutlivesAFlowKilledWhileItStartsSteps() throws {
        // Many short-lived starts at once: the moments when commands are being started.
        let dag = """
            step s[i in 0..<400]
              out out/{i}
              run sleep 0.6; touch late/{i}; echo > {out}
            """
        for round in 0..<Self.rounds {
            let dir = TemporaryDirectory("flow-pdeath")
            try dir.write("flow.dag", dag)
            try FileManager.default.createDirectory(atPath: dir.path + "/late", withIntermediateDirectories: true)
            let flow = try BackgroundFlow(["run", "-j", "16"], in: dir.path)
            usleep(UInt32(150_000 + (round * 37_000) % 200_000))
            flow.signal(SIGKILL)
            _ = flow.wait()
            let killedAt = Date()
            // Any step that survived its flow would touch late/ within 0.6 s.
            usleep(1_500_000)
            let late = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/late")
            #expect(late.isEmpty, "round \(round): \(late.count) steps ran to their end after flow died at \(killedAt)")
        }
    }

    @Test func aFlowThatDiesWhileSupervisorsAreSettingUpTakesItsStepsWithIt() throws {
        // The supervisor pauses after starting each command, before it looks for flow's death
        // again: flow dies then.
        let dir = TemporaryDirectory("flow-pdeath-window")
        try dir.write("flow.dag", """
            step s[i in 0..<2]
              out out/{i}
              env FLOW_SUPERVISOR_TEST_PAUSE_MS=600
              run sleep 0.9; touch late/{i}; echo > {out}
            """)
        try FileManager.default.createDirectory(atPath: dir.path + "/late", withIntermediateDirectories: true)
        let flow = try BackgroundFlow(["run", "-j", "2"], in: dir.path)
        usleep(300_000)
        flow.signal(SIGKILL)
        _ = flow.wait()
        usleep(1_500_000)
        let late = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/late")
        #expect(late.isEmpty, "\(late.count) steps ran to their end after flow died")
    }

    @Test func aStepSupervisorKilledMidRunFailsItsStepsAndTheNextRunWorks() throws {
        let dir = TemporaryDirectory("flow-supervisor-killed")
        try dir.write("flow.dag", """
            step s[i in 0..<4]
              out out/{i}
              run touch started/{i}; sleep 30 & wait; echo > {out}
            """)
        try FileManager.default.createDirectory(atPath: dir.path + "/started", withIntermediateDirectories: true)
        let flow = try BackgroundFlow(["run", "-j", "2"], in: dir.path)
        #expect(BackgroundFlow.waitUntil(seconds: 30) { ((try? FileManager.default.contentsOfDirectory(atPath: dir.path + "/started")) ?? []).count == 2 })
        let supervisors = ProcessScan.children(of: flow.process.processIdentifier, named: "flow-supervisor")
        #expect(supervisors.count == 1, "\(supervisors)")
        for pid in supervisors { kill(pid, SIGKILL) }
        let killed = Date()
        let r = flow.wait()
        #expect(Date().timeIntervalSince(killed) < 20, "steps of a dead supervisor must fail, not hang")
        #expect(r.status == 1, "\(r)")
        #expect(r.stdout.contains("the step supervisor") || r.stderr.contains("the step supervisor"), "\(r)")
        #expect(BackgroundFlow.waitUntil(seconds: 10) { ProcessScan.pids(inDirectory: dir.path).isEmpty },
                "step processes outlived their supervisor: \(ProcessScan.pids(inDirectory: dir.path))")
        try dir.write("flow.dag", """
            step s[i in 0..<4]
              out out/{i}
              run echo > {out}
            """)
        let again = try FlowBinary.run(["run", "-j", "2"], in: dir.path)
        #expect(again.status == 0, "\(again)")
    }

    @Test func twoWorkspacesNeverShareACheckpointDirectory() throws {
        // Each attempt records its own pid in the checkpoint; sharing shows as two pids.
        let dag = """
            step train
              out model.txt
              checkpoint
              run for k in 1 2 3 4 5 6; do echo $$ >> "$FLOW_CHECKPOINT_DIR/owners"; sleep 0.1; done; sort -u "$FLOW_CHECKPOINT_DIR/owners" | wc -l > {out}
            """
        for round in 0..<Self.rounds {
            let cache = TemporaryDirectory("flow-ck-cache")
            let a = TemporaryDirectory("flow-ck-a"), b = TemporaryDirectory("flow-ck-b")
            try a.write("flow.dag", dag)
            try b.write("flow.dag", dag)
            let env = ["FLOW_CACHE": cache.path]
            let runA = try BackgroundFlow(["run"], in: a.path, environment: env)
            usleep(UInt32(round % 3) * 150_000)
            let runB = try BackgroundFlow(["run"], in: b.path, environment: env)
            let ra = runA.wait(), rb = runB.wait()
            #expect(ra.status == 0, "\(ra)")
            #expect(rb.status == 0, "\(rb)")
            #expect((try? a.read("model.txt"))?.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "round \(round)")
            #expect((try? b.read("model.txt"))?.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "round \(round)")
        }
    }

    @Test func gcDuringRunsNeverLeavesAManifestWithoutItsObjects() throws {
        let dag = """
            step s[i in 0..<40]
              out out/{i}.bin
              run head -c 2000 /dev/urandom > {out}
            """
        for round in 0..<Self.rounds {
            let dir = TemporaryDirectory("flow-gc-race")
            try dir.write("flow.dag", dag)
            // gc keeps only what other.dag needs and what this workspace's records name.
            try dir.write("other.dag", "step z\n  out z.txt\n  run echo z > {out}\n")
            let flow = try BackgroundFlow(["run", "-j", "2", "flow.dag"], in: dir.path)
            var gcs = 0
            while flow.process.isRunning {
                let gc = try FlowBinary.run(["gc", "--keep-runs", "0", "other.dag"], in: dir.path)
                #expect(gc.status == 0, "\(gc)")
                gcs += 1
            }
            let r = flow.wait()
            #expect(r.status == 0, "round \(round): \(r)")
            let verify = try FlowBinary.run(["verify"], in: dir.path)
            #expect(verify.status == 0, "round \(round) after \(gcs) gc runs: \(verify)")
            let status = try FlowBinary.run(["status", "--check", "flow.dag"], in: dir.path)
            #expect(status.status == 0, "round \(round): \(status)")
        }
    }

    @Test func aRunRemovesCacheTemporariesOfDeadProcessesAndKeepsLiveOnes() throws {
        let dir = TemporaryDirectory("flow-tmp-clean")
        try dir.write("flow.dag", "step s\n  out o.txt\n  run echo > {out}\n")
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        let gone = try Self.deadProcess()
        try dir.write("cache/tmp/\(Self.temporaryName(pid: gone, 1))", "half an object")
        try dir.write("cache/tmp/\(Self.temporaryName(pid: getpid(), 2))", "a live writer's")
        try dir.write("flow.dag", "step s\n  out o.txt\n  run echo changed > {out}\n")
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        #expect(!dir.exists("cache/tmp/\(Self.temporaryName(pid: gone, 1))"), "a dead process's temporary stayed")
        #expect(dir.exists("cache/tmp/\(Self.temporaryName(pid: getpid(), 2))"), "a live process's temporary was removed")
    }

    /// The name flow gives its temporaries: short host name, pid namespace, pid, a number.
    static func temporaryName(pid: Int32, _ number: Int) -> String {
        let host = String((ProcessInfo.processInfo.hostName.split(separator: ".").first ?? "host").map { $0.isLetter || $0.isNumber ? $0 : "_" })
        let namespace = ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")) ?? "0").filter(\.isNumber)
        return "\(host)_\(namespace)-\(pid)-\(number)"
    }

    /// The pid of a process that has ended.
    static func deadProcess() throws -> Int32 {
        Int32(try FlowBinary.runProgram("/bin/sh", ["-c", "echo $$"], in: "/").stdout.trimmingCharacters(in: .whitespacesAndNewlines))!
    }

    @Test func aRestoreKilledHalfWayLeavesNoPartialFileInAnOutputDirectory() throws {
        let dir = TemporaryDirectory("flow-restore-kill")
        try dir.write("flow.dag", """
            step big
              out data/
              run mkdir -p data && for i in 1 2 3 4 5 6 7 8; do head -c 8000000 /dev/urandom > data/part$i.bin; done
            step sum
              in data/
              out sum.txt
              run ls data | wc -l > {out}
            """)
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        let expected = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/data").sorted()
        for round in 0..<Self.rounds {
            try FileManager.default.removeItem(atPath: dir.path + "/data")
            let flow = try BackgroundFlow(["run", "--link", "copy"], in: dir.path)
            usleep(UInt32(5_000 + round * 9_000))
            flow.signal(SIGKILL)
            _ = flow.wait()
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path + "/data")) ?? []
            #expect(names.allSatisfy { expected.contains($0) }, "round \(round): \(names)")
            let r = try FlowBinary.run(["run"], in: dir.path)
            #expect(r.status == 0, "\(r)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/data").sorted() == expected)
            #expect(!r.stdout.contains("ran sum"), "the partial restore changed what sum reads: \(r)")
        }
        let tmp = (try? FileManager.default.contentsOfDirectory(atPath: dir.path + "/cache/tmp")) ?? []
        #expect(tmp.isEmpty, "\(tmp)")
    }

    @Test func aRestoreIntoABindMountOfTheWorkspacesFileSystemWorks() throws {
        let dir = TemporaryDirectory("flow-bind-ws")
        let mount = try Requirement.bindMount(in: dir, at: "outd")
        try dir.write("flow.dag", """
            step s
              out outd/x.txt
              run echo hi > {out}
            step d
              out outd/sub/
              run mkdir -p outd/sub && echo a > outd/sub/a
            """)
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        try FileManager.default.removeItem(atPath: dir.path + "/outd/x.txt")
        try FileManager.default.removeItem(atPath: dir.path + "/outd/sub")
        let r = try FlowBinary.run(["run"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("restored s") && r.stdout.contains("restored d"), "\(r)")
        #expect((try? dir.read("outd/x.txt")) == "hi\n")
        #expect((try? dir.read("outd/sub/a")) == "a\n")
        let names = (try? FileManager.default.subpathsOfDirectory(atPath: dir.path + "/outd")) ?? []
        #expect(!names.contains { $0.contains(".flow-tmp-") }, "\(names)")

        // Mounted read-only, the output cannot be restored: the error says why, and where.
        try FileManager.default.removeItem(atPath: dir.path + "/outd/x.txt")
        try mount.remount("ro")
        let ro = try FlowBinary.run(["run"], in: dir.path)
        #expect(ro.status == 1, "\(ro)")
        #expect(ro.stderr.contains("/outd/x.txt': Read-only file system"), "\(ro)")
        #expect(!ro.stderr.contains("cross-device"), "\(ro)")
    }

    /// An output directory that is itself a mount point (a disk of its own for big outputs)
    /// cannot be removed and made again: flow empties it instead, to run, restore and clean.
    @Test func anOutputDirectoryThatIsAMountPointRunsAndRestores() throws {
        let dir = TemporaryDirectory("flow-mountpoint-out")
        let mount = try Requirement.bindMount(in: dir, at: "data")
        try dir.write("flow.dag", "step t\n  out data/\n  run echo a > data/a\n")
        let first = try FlowBinary.run(["run"], in: dir.path)
        #expect(first.status == 0, "\(first)")
        try dir.write("data/extra", "by hand\n")
        try FileManager.default.removeItem(atPath: dir.path + "/data/a")
        let restore = try FlowBinary.run(["run"], in: dir.path)
        #expect(restore.status == 0 && restore.stdout.contains("restored t"), "\(restore)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/data") == ["a"])
        let forced = try FlowBinary.run(["run", "--force", "t"], in: dir.path)
        #expect(forced.status == 0 && forced.stdout.contains("ran t"), "\(forced)")
        let clean = try FlowBinary.run(["clean", "t"], in: dir.path)
        #expect(clean.status == 0, "\(clean)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/data").isEmpty)
        withExtendedLifetime(mount) {}
    }

    @Test func aRestoreKilledHalfWayOnAnotherFileSystemLeavesNoTemporaryAfterTheNextRun() throws {
        let mount = try Requirement.tmpfs(size: "160m")
        let dir = TemporaryDirectory("flow-restore-kill-fs")
        // The output's directory is on the tmpfs: its temporaries are written beside it.
        try FileManager.default.createDirectory(atPath: mount.path + "/big", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/big", withDestinationPath: mount.path + "/big")
        try dir.write("flow.dag", "step big\n  out big/x.bin\n  run head -c 64000000 /dev/urandom > {out}\n")
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        func temporaries() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: mount.path + "/big")) ?? []).filter { $0.contains(".flow-tmp-") }
        }
        // What an earlier kill left (a dead process's), beside what a live one is writing.
        let live = "x.bin.flow-tmp-\(Self.temporaryName(pid: getpid(), 2))"
        try "half a file".write(toFile: mount.path + "/big/x.bin.flow-tmp-\(Self.temporaryName(pid: try Self.deadProcess(), 1))",
                                atomically: false, encoding: .utf8)
        try "a live writer's".write(toFile: mount.path + "/big/" + live, atomically: false, encoding: .utf8)
        for round in 0..<Self.rounds {
            try FileManager.default.removeItem(atPath: mount.path + "/big/x.bin")
            let flow = try BackgroundFlow(["run", "--link", "copy"], in: dir.path)
            usleep(UInt32(20_000 + round * 20_000))
            flow.signal(SIGKILL)
            _ = flow.wait()
            let r = try FlowBinary.run(["run", "-q"], in: dir.path)
            #expect(r.status == 0, "round \(round): \(r)")
            #expect(temporaries() == [live], "round \(round)")
            let size = (try? FileManager.default.attributesOfItem(atPath: mount.path + "/big/x.bin"))?[.size] as? Int
            #expect(size == 64_000_000, "round \(round)")
        }
    }
}
