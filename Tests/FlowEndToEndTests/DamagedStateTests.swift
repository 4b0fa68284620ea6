import Foundation
import FlowTestSupport
import Testing

/// A damaged or unwritable `.flow`, a full disk, two runs racing on a new workspace: flow says
/// what happened and what to do, exits with its documented codes, and heals what it can.
@Suite struct DamagedStateTests {
    func workspace() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory("flow-state")
        try dir.write("flow.dag", "step s\n  in src.txt\n  out out.txt\n  run cp {in} {out}\n")
        try dir.write("src.txt", "hello\n")
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        return dir
    }

    @Test(arguments: ["truncated", "garbage", "bad page"])
    func aDamagedStateDatabaseIsMovedAsideAndRebuilt(damage: String) throws {
        let dir = try workspace()
        let db = dir.path + "/.flow/state.db"
        // Fold the WAL in first, so the damage is in the file itself.
        try? FileManager.default.removeItem(atPath: db + "-wal")
        try? FileManager.default.removeItem(atPath: db + "-shm")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: db))
        switch damage {
        case "truncated": bytes = bytes.prefix(bytes.count / 2 + 100)
        case "garbage": bytes = Data((0..<bytes.count).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) })
        default:
            // The second page: overwrite it with junk.
            for i in 4096..<min(8192, bytes.count) { bytes[i] = 0xA5 }
        }
        try bytes.write(to: URL(fileURLWithPath: db))
        for command in [["status"], ["runs"]] {
            let r = try FlowBinary.run(command, in: dir.path)
            #expect(r.status == 0, "\(damage), \(command): \(r)")
            #expect(r.stderr.contains(".flow/state.db is damaged") || !r.stderr.contains("malformed"), "\(r)")
        }
        let run = try FlowBinary.run(["run"], in: dir.path)
        #expect(run.status == 0, "\(damage): \(run)")
        #expect(try dir.read("out.txt") == "hello\n")
        let aside = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/.flow").filter { $0.hasPrefix("state.db.damaged-") }
        #expect(!aside.isEmpty || damage == "bad page", "\(damage)")
        #expect(try FlowBinary.run(["status", "--check"], in: dir.path).status == 0)
    }

    @Test func aReadOnlyStateDirectoryIsSaidPlainly() throws {
        let dir = try workspace()
        // Root ignores permissions: make the directory unwritable the way a read-only mount would.
        let mount = try Requirement.tmpfs(size: "4m")
        let ro = mount.path + "/ws"
        try FileManager.default.createDirectory(atPath: ro, withIntermediateDirectories: true)
        _ = try FlowBinary.runProgram("cp", ["-a", dir.path + "/.", ro], in: "/")
        try mount.remount("ro")
        let r = try FlowBinary.run(["run"], in: ro)
        #expect(r.status == 74, "\(r)")
        #expect(r.stderr.contains("state.db") && !r.stderr.contains("code 1544") && !r.stderr.contains("NSCocoaErrorDomain"), "\(r)")
    }

    @Test func aFileWhereTheStateDirectoryShouldBeIsSaidPlainly() throws {
        let dir = TemporaryDirectory("flow-state")
        try dir.write("flow.dag", "step s\n  out out.txt\n  run echo hi > {out}\n")
        try dir.write(".flow", "not a directory\n")
        let r = try FlowBinary.run(["run"], in: dir.path)
        #expect(r.status == 74, "\(r)")
        #expect(r.stderr.contains(".flow") && r.stderr.contains("a file stands where a directory must be"), "\(r)")
        #expect(!r.stderr.contains("NSCocoaErrorDomain"), "\(r)")
    }

    @Test func anUnwritableLogDirectoryIsSaidPlainly() throws {
        let dir = TemporaryDirectory("flow-state")
        try dir.write("flow.dag", "step s\n  out out.txt\n  run echo hi > {out}\n")
        try dir.write(".flow/logs", "a file where the log directory goes\n")
        let r = try FlowBinary.run(["run"], in: dir.path)
        #expect(r.status != 0, "\(r)")
        #expect(r.stderr.contains(".flow/logs") && !r.stderr.contains("NSCocoaErrorDomain"), "\(r)")
    }

    @Test func aCacheObjectReplacedByADirectoryIsRemovedByVerifyAndRebuilt() throws {
        let dir = try workspace()
        // Over 2 KiB, so that the output is an object (smaller ones are kept inside the manifest).
        let content = String(repeating: "hello\n", count: 500)
        try dir.write("src.txt", content)
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        let objects = dir.path + "/cache/objects"
        var replaced = 0
        for sub in try FileManager.default.contentsOfDirectory(atPath: objects) {
            for name in try FileManager.default.contentsOfDirectory(atPath: objects + "/" + sub) {
                let p = objects + "/" + sub + "/" + name
                try FileManager.default.removeItem(atPath: p)
                try FileManager.default.createDirectory(atPath: p + "/inside", withIntermediateDirectories: true)
                replaced += 1
            }
        }
        #expect(replaced > 0)
        try FileManager.default.removeItem(atPath: dir.path + "/out.txt")
        let run = try FlowBinary.run(["run"], in: dir.path)
        #expect(run.status == 0, "\(run)")
        #expect(try dir.read("out.txt") == content)
        let verify = try FlowBinary.run(["verify"], in: dir.path)
        #expect(verify.status == 0 || verify.stdout.contains("removed"), "\(verify)")
        #expect(try FlowBinary.run(["verify"], in: dir.path).status == 0)
        for sub in try FileManager.default.contentsOfDirectory(atPath: objects) {
            for name in try FileManager.default.contentsOfDirectory(atPath: objects + "/" + sub) {
                var isDir: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: objects + "/" + sub + "/" + name, isDirectory: &isDir)
                #expect(!isDir.boolValue, "a directory is still where an object should be: \(name)")
            }
        }
    }

    @Test func twoRunsStartingTogetherInANewWorkspace() throws {
        for round in 0..<8 {
            let dir = TemporaryDirectory("flow-race")
            try dir.write("flow.dag", "step s\n  out out.txt\n  run sleep 0.3; echo hi > {out}\n")
            let a = try BackgroundFlow(["run"], in: dir.path)
            let b = try BackgroundFlow(["run"], in: dir.path)
            let ra = a.wait(), rb = b.wait()
            let statuses = [ra.status, rb.status].sorted()
            #expect(statuses == [0, 75] || statuses == [0, 0], "round \(round): \(ra)\n\(rb)")
            #expect(!(ra.stderr + rb.stderr).contains("sqlite"), "round \(round): \(ra)\n\(rb)")
        }
    }

    @Test func aStepThatFillsTheDiskLeavesNothingThatBlocksTheNextRun() throws {
        let mount = try Requirement.tmpfs(size: "3m")
        let ws = mount.path + "/ws"
        try FileManager.default.createDirectory(atPath: ws, withIntermediateDirectories: true)
        let cache = TemporaryDirectory("flow-full-cache")
        try "let mb = 8\nstep fill\n  out big.bin\n  run head -c {mb}000000 /dev/zero > {out}\n"
            .write(toFile: ws + "/flow.dag", atomically: true, encoding: .utf8)
        let full = try FlowBinary.run(["run", "--cache", cache.path], in: ws)
        #expect(full.status == 1 || full.status == 74, "\(full)")
        #expect(full.stderr.contains("fill"), "\(full)")
        #expect(full.stderr.contains("the disk holding big.bin is full"), "\(full)")
        #expect(!FileManager.default.fileExists(atPath: ws + "/big.bin"), "the partial output of a failed step stayed")
        let again = try FlowBinary.run(["run", "--cache", cache.path, "--set", "mb=1"], in: ws)
        #expect(again.status == 0, "\(again)")
    }

    @Test func aResultThatCannotBeStoredOnAFullDiskIsRemoved() throws {
        let mount = try Requirement.tmpfs(size: "3m")
        let ws = mount.path + "/ws"
        try FileManager.default.createDirectory(atPath: ws, withIntermediateDirectories: true)
        // The step fills the disk but exits 0; its output is whole as far as it knows, and there
        // is no room left to store it in the cache, which is on the same disk.
        try "let mb = 8\nstep fill\n  out big.bin\n  run head -c {mb}000000 /dev/zero > {out} || true\n"
            .write(toFile: ws + "/flow.dag", atomically: true, encoding: .utf8)
        let full = try FlowBinary.run(["run"], in: ws)
        #expect(full.status == 1, "\(full)")
        #expect(full.stderr.contains("No space left on device") && full.stderr.contains("its outputs were removed"), "\(full)")
        #expect(!FileManager.default.fileExists(atPath: ws + "/big.bin"), "an output that has no result stayed")
        for command in [["status"], ["run", "--set", "mb=1"]] {
            let r = try FlowBinary.run(command, in: ws)
            #expect(r.status == 0, "\(command): \(r)")
        }
    }

    @Test func aDiskThatIsFullBeforeFlowStartsIsSaidPlainly() throws {
        let mount = try Requirement.tmpfs(size: "3m")
        let ws = mount.path + "/ws"
        try FileManager.default.createDirectory(atPath: ws, withIntermediateDirectories: true)
        try "step s\n  out o.txt\n  run echo one > {out}\n".write(toFile: ws + "/flow.dag", atomically: true, encoding: .utf8)
        #expect(try FlowBinary.run(["run", "-q"], in: ws).status == 0)
        try "step s\n  out o.txt\n  run echo two > {out}\n".write(toFile: ws + "/flow.dag", atomically: true, encoding: .utf8)
        _ = try FlowBinary.runProgram("/bin/sh", ["-c", "head -c 8000000 /dev/zero > ../filler"], in: ws)
        for command in [["run"], ["status"], ["runs"]] {
            let r = try FlowBinary.run(command, in: ws)
            #expect(r.status == 0 || r.status == 74, "\(command): \(r)")
            #expect(!r.stderr.contains("sqlite:") && !r.stderr.contains("(code "), "\(command): \(r)")
            if r.status == 74 {
                #expect(r.stderr.contains(".flow/state.db") && r.stderr.contains("full") && r.stderr.contains("free some space"),
                        "\(command): \(r)")
            }
        }
        try FileManager.default.removeItem(atPath: mount.path + "/filler")
        let r = try FlowBinary.run(["run"], in: ws)
        #expect(r.status == 0, "\(r)")
        #expect(try String(contentsOfFile: ws + "/o.txt", encoding: .utf8) == "two\n")
    }
}
