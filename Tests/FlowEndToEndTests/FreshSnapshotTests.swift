import Foundation
import FlowTestSupport
import Testing

/// The no-op fast path (`.flow/fresh`): once a full evaluation found everything fresh, `flow
/// status` and `flow run` answer from the snapshot, and any change it could miss must make them
/// evaluate again. Each test builds a workspace, makes the snapshot, changes one thing, and
/// checks that flow notices.
@Suite struct FreshSnapshotTests {
    static let dag = """
        let tag = one
        step part[f in src/*.txt]
          in  {f}
          out build/{f.stem}.out
          env FLOW_TEST_MODE
          run tr a-z A-Z < {f} > {out}; echo "$FLOW_TEST_MODE" >> {out}
        step all
          in  build/
          out result/
          run cat build/*.out > {out}/all.txt; echo {tag} >> {out}/all.txt
        """

    /// A built workspace with a snapshot in place.
    func workspace() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory("flow-fresh")
        try dir.write("flow.dag", Self.dag)
        try dir.write("src/a.txt", "alpha\n")
        try dir.write("src/b.txt", "beta\n")
        let run = try FlowBinary.run(["run", "-q"], in: dir.path, environment: ["FLOW_TEST_MODE": "x"])
        #expect(run.status == 0, "\(run)")
        try makeSnapshot(dir)
        return dir
    }

    /// Files changed in the last tenth of a second are not trusted, so wait that long first.
    func makeSnapshot(_ dir: TemporaryDirectory, environment: [String: String] = ["FLOW_TEST_MODE": "x"]) throws {
        Thread.sleep(forTimeInterval: 0.15)
        let status = try FlowBinary.run(["status", "--check"], in: dir.path, environment: environment)
        #expect(status.status == 0, "\(status)")
        #expect(dir.exists(".flow/fresh"), "a fully fresh status writes the snapshot")
    }

    func status(_ dir: TemporaryDirectory, _ extra: [String] = [], environment: [String: String] = ["FLOW_TEST_MODE": "x"]) throws -> ProcessResult {
        try FlowBinary.run(["status", "-a"] + extra, in: dir.path, environment: environment)
    }

    @Test func snapshotAnswersWithTheSameTable() throws {
        let dir = try workspace()
        let fast = try status(dir)
        try FileManager.default.removeItem(atPath: dir.path + "/.flow/fresh")
        let full = try status(dir)
        #expect(fast.stdout == full.stdout)
        #expect(fast.stdout.contains("3 steps: 3 fresh"), "\(fast)")
        let run = try FlowBinary.run(["run"], in: dir.path, environment: ["FLOW_TEST_MODE": "x"])
        #expect(run.status == 0 && run.stdout.contains("3 cached"), "\(run)")
    }

    @Test func editedInputIsSeen() throws {
        let dir = try workspace()
        try dir.write("src/a.txt", "ALPHA\n")
        let s = try status(dir)
        #expect(s.stdout.contains("input changed: src/a.txt"), "\(s)")
    }

    @Test func newGlobMatchIsSeen() throws {
        let dir = try workspace()
        try dir.write("src/c.txt", "gamma\n")
        let s = try status(dir)
        #expect(s.stdout.contains("part[src/c.txt]") && s.stdout.contains("4 steps"), "\(s)")
    }

    @Test func editedOutputIsSeen() throws {
        let dir = try workspace()
        try dir.write("result/all.txt", "tampered\n")
        #expect(try status(dir).stdout.contains("restorable"))
        try dir.write("result/extra.txt", "x\n")
        #expect(try status(dir).stdout.contains("restorable"))
    }

    @Test func fileAddedInsideAnInputDirectoryIsSeen() throws {
        let dir = try workspace()
        try dir.write("build/stray.out", "stray\n")
        let s = try status(dir)
        #expect(s.stdout.contains("stale") || s.stdout.contains("restorable"), "\(s)")
    }

    @Test func dagEditAndSetAndEnvironmentAreSeen() throws {
        let dir = try workspace()
        #expect(try status(dir, ["--set", "tag=two"]).stdout.contains("variable tag changed"))
        #expect(try status(dir, environment: ["FLOW_TEST_MODE": "y"]).stdout.contains("stale"))
        try dir.write("flow.dag", Self.dag.replacingOccurrences(of: "let tag = one", with: "let tag = three"))
        #expect(try status(dir).stdout.contains("variable tag changed"))
    }

    @Test func removingObjectsFromTheCacheIsSeen() throws {
        let dir = try workspace()
        // Corrupt every cached object; `flow verify` removes them, which the snapshot must notice.
        let objects = try FileManager.default.subpathsOfDirectory(atPath: dir.path + "/cache/objects")
            .filter { $0.count > 3 }
        #expect(!objects.isEmpty)
        for o in objects {
            let p = dir.path + "/cache/objects/" + o
            var bytes = try Data(contentsOf: URL(fileURLWithPath: p))
            bytes.append(0x21)
            try FileManager.default.removeItem(atPath: p)
            try bytes.write(to: URL(fileURLWithPath: p))
        }
        let verify = try FlowBinary.run(["verify"], in: dir.path)
        #expect(verify.status != 0, "\(verify)")
        let s = try status(dir)
        #expect(!s.stdout.contains("3 fresh"), "objects were removed, yet status answered from the snapshot: \(s)")
    }

    @Test func aRunThatStartsSomethingRemovesTheSnapshot() throws {
        let dir = try workspace()
        let run = try FlowBinary.run(["run", "-q", "--force", "all"], in: dir.path, environment: ["FLOW_TEST_MODE": "x"])
        #expect(run.status == 0, "\(run)")
        #expect(!dir.exists(".flow/fresh"))
        try makeSnapshot(dir)
    }
}
