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
    func makeSnapshot(_ dir: TemporaryDirectory, _ extra: [String] = [], environment: [String: String] = ["FLOW_TEST_MODE": "x"]) throws {
        Thread.sleep(forTimeInterval: 0.15)
        let status = try FlowBinary.run(["status", "--check"] + extra, in: dir.path, environment: environment)
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

    /// A no-op run is journaled in one write that leaves SQLite's log for the next full open
    /// (no fsync per no-op run): every entry must be there for `flow runs`, and a full run after
    /// them must take the log over.
    @Test func noOpRunsAreJournaledAndTheirLogIsTakenOver() throws {
        let dir = try workspace()
        for _ in 0..<3 {
            let run = try FlowBinary.run(["run"], in: dir.path, environment: ["FLOW_TEST_MODE": "x"])
            #expect(run.status == 0 && run.stdout.contains("3 cached"), "\(run)")
        }
        #expect(dir.exists(".flow/state.db-wal"), "the no-op runs left their log")
        let runs = try FlowBinary.run(["runs"], in: dir.path)
        #expect(runs.stdout.components(separatedBy: "3 cached").count - 1 == 3, "\(runs)")
        try dir.write("src/c.txt", "gamma\n")
        let full = try FlowBinary.run(["run"], in: dir.path, environment: ["FLOW_TEST_MODE": "x"])
        #expect(full.status == 0 && full.stdout.contains("2 ran"), "\(full)")
        #expect(!dir.exists(".flow/state.db-wal"), "the full run checkpointed the log as it closed")
        let after = try FlowBinary.run(["runs"], in: dir.path)
        #expect(after.stdout.components(separatedBy: "3 cached").count - 1 == 3, "\(after)")
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
        // A source large enough that its step's output is an object, not inside its manifest.
        try dir.write("src/c.txt", String(repeating: "gamma\n", count: 500))
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path, environment: ["FLOW_TEST_MODE": "x"]).status == 0)
        try makeSnapshot(dir)
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
        #expect(!s.stdout.contains("4 fresh"), "objects were removed, yet status answered from the snapshot: \(s)")
    }

    @Test func aRunThatStartsSomethingRemovesTheSnapshot() throws {
        let dir = try workspace()
        let run = try FlowBinary.run(["run", "-q", "--force", "all"], in: dir.path, environment: ["FLOW_TEST_MODE": "x"])
        #expect(run.status == 0, "\(run)")
        #expect(!dir.exists(".flow/fresh"))
        try makeSnapshot(dir)
    }

    @Test func setFromOneValueToAnotherIsSeen() throws {
        let dir = try workspace()
        let two = try FlowBinary.run(["run", "-q", "--set", "tag=two"], in: dir.path, environment: ["FLOW_TEST_MODE": "x"])
        #expect(two.status == 0, "\(two)")
        try makeSnapshot(dir, ["--set", "tag=two"])
        // The snapshot was made under tag=two: under tag=three it must not hold.
        let s = try status(dir, ["--set", "tag=three"])
        #expect(s.stdout.contains("variable tag changed"), "\(s)")
        let three = try FlowBinary.run(["run", "--set", "tag=three"], in: dir.path, environment: ["FLOW_TEST_MODE": "x"])
        #expect(three.status == 0 && three.stdout.contains("1 ran"), "\(three)")
        #expect(try dir.read("result/all.txt").hasSuffix("three\n"))
    }

    /// git's racy case: a file changed again after it was looked at, within one timestamp tick,
    /// keeps its whole signature (inode, size, mtime, ctime), and only the rule "no snapshot while
    /// a path changed less than 0.1 s ago" keeps the snapshot from claiming it unchanged.
    ///
    /// Two writes within one tick cannot be timed from a test (and kernels with fine-grained
    /// timestamps give a write after a `stat` a new ctime), so the second change is made through a
    /// shared mapping whose page is already dirty: such a write updates no timestamp. The .dag is
    /// the file changed, because a full evaluation reads it again (an input would be answered by
    /// the stat cache, which is fooled in the same way). Its mtime is set ahead of the clock so it
    /// is within the racy window however long `flow status` takes: no sleep, no timing. The
    /// workspace is on a tmpfs: on a disk file system, any `syncfs` on the machine (every `flow
    /// run` of a parallel test makes one) writes the page back, and the next write through the
    /// mapping updates the times again.
    @Test func changeWithinTheRacyWindowIsSeen() throws {
        let tmpfs = try Requirement.tmpfs(size: "16m")
        let dir = tmpfs.directory
        try dir.write("flow.dag", Self.dag)
        try dir.write("src/a.txt", "alpha\n")
        let run = try FlowBinary.run(["run", "-q"], in: dir.path, environment: ["FLOW_TEST_MODE": "x"])
        #expect(run.status == 0, "\(run)")

        let dagPath = dir.path + "/flow.dag"
        let size = Self.dag.utf8.count
        let offset = try #require(Self.dag.utf8.firstRange(of: "tag = one".utf8)).lowerBound
        let at = Self.dag.utf8.distance(from: Self.dag.utf8.startIndex, to: offset) + "tag = ".utf8.count
        let fd = open(dagPath, O_RDWR)
        try #require(fd >= 0)
        defer { close(fd) }
        let map = try #require(mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0))
        try #require(map != MAP_FAILED)
        defer { munmap(map, size) }
        let bytes = map.assumingMemoryBound(to: UInt8.self)
        // Dirty the page without changing the content (this write may update the times), then put
        // the mtime ahead of the clock.
        let original = bytes[at]
        bytes[at] = original ^ 0x20
        bytes[at] = original
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var times = [now, timespec(tv_sec: now.tv_sec + 60, tv_nsec: 0)]
        try #require(utimensat(AT_FDCWD, dagPath, &times, 0) == 0)

        // Everything is fresh; the .dag was changed "just now", so no snapshot may be written.
        let check = try FlowBinary.run(["status", "--check"], in: dir.path, environment: ["FLOW_TEST_MODE": "x"])
        #expect(check.status == 0, "\(check)")

        var before = stat()
        var after = stat()
        fstat(fd, &before)
        for (i, c) in "two".utf8.enumerated() { bytes[at + i] = c }
        fstat(fd, &after)
        guard before.st_ino == after.st_ino && before.st_size == after.st_size
            && before.st_mtim.tv_sec == after.st_mtim.tv_sec && before.st_mtim.tv_nsec == after.st_mtim.tv_nsec
            && before.st_ctim.tv_sec == after.st_ctim.tv_sec && before.st_ctim.tv_nsec == after.st_ctim.tv_nsec else {
            try Requirement.unmet("this file system updates timestamps on every write through a dirty shared mapping")
        }
        #expect(try dir.read("flow.dag").contains("let tag = two"))

        let s = try status(dir)
        #expect(s.stdout.contains("variable tag changed"), "the snapshot hid a change made within the racy window: \(s)")
        let rerun = try FlowBinary.run(["run"], in: dir.path, environment: ["FLOW_TEST_MODE": "x"])
        #expect(rerun.status == 0 && rerun.stdout.contains("1 ran"), "\(rerun)")
        #expect(try dir.read("result/all.txt").hasSuffix("two\n"))
    }
}
