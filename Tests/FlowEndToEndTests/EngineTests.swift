import Foundation
import FlowTestSupport
import Testing

/// The engine end to end: the built `flow` binary on temporary workspaces, as a user runs it.
/// Each step appends its name to `ran.log`, so a test can tell exactly which steps ran.
@Suite struct EngineTests {
    /// a → b → d, c → d; `mid` copies its input (so identical bytes can stop propagation).
    static let dag = """
        let greeting = hello
        let unused = 1
        step a
          in  src/a.txt
          out build/a.out
          run tr a-z A-Z < {in} > {out}; echo a >> ran.log
        step b
          in  build/a.out
          out build/b.out
          run cut -c1-3 {in} > {out}; echo b >> ran.log
        step c
          in  src/c.txt
          out build/c.out
          run echo {greeting} | cat - {in} > {out}; echo c >> ran.log
        step d
          in  build/b.out build/c.out
          out build/d.out
          run cat {in} > {out}; echo d >> ran.log
        """

    func workspace() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory("flow-e2e")
        try dir.write("flow.dag", Self.dag)
        try dir.write("src/a.txt", "alpha\n")
        try dir.write("src/c.txt", "gamma\n")
        return dir
    }

    /// Runs `flow ARGS` and returns which steps ran (in order), then clears the record.
    func ran(_ dir: TemporaryDirectory, _ args: [String], expectStatus: Int32 = 0) throws -> [String] {
        let r = try FlowBinary.run(args, in: dir.path)
        #expect(r.status == expectStatus, "\(r)")
        let log = (try? dir.read("ran.log")) ?? ""
        try? FileManager.default.removeItem(atPath: dir.path + "/ran.log")
        return log.split(separator: "\n").map(String.init).sorted()
    }

    @Test func firstRunRunsAllSecondRunsNothing() throws {
        let dir = try workspace()
        #expect(try ran(dir, ["run"]) == ["a", "b", "c", "d"])
        #expect(try dir.read("build/d.out") == "ALP\nhello\ngamma\n")
        #expect(try ran(dir, ["run"]) == [])
        let status = try FlowBinary.run(["status", "--check"], in: dir.path)
        #expect(status.status == 0, "\(status)")
    }

    @Test func logShowsTheLastRunThatRanTheStepThenTheCachedLog() throws {
        let dir = TemporaryDirectory("flow-log")
        try dir.write("flow.dag", "step say\n  out said.txt\n  run echo hello from say; echo x > {out}\n")
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)  // cached: no log of its own
        let log = try FlowBinary.run(["log", "say"], in: dir.path)
        #expect(log.status == 0 && log.stdout == "hello from say\n", "\(log)")
        #expect(log.stderr.contains("run 1"), "\(log)")
        try FileManager.default.removeItem(atPath: dir.path + "/.flow/logs")
        let cached = try FlowBinary.run(["log", "say"], in: dir.path)
        #expect(cached.status == 0 && cached.stdout == "hello from say\n" && cached.stderr.contains("from the cache"), "\(cached)")
    }

    @Test func editingAnInputRerunsExactlyItsDownstream() throws {
        let dir = try workspace()
        _ = try ran(dir, ["run"])
        try dir.write("src/c.txt", "delta\n")
        let status = try FlowBinary.run(["status", "--check"], in: dir.path)
        #expect(status.status == 1)
        #expect(status.stdout.contains("input changed: src/c.txt"), "\(status)")
        #expect(try ran(dir, ["run"]) == ["c", "d"])
    }

    @Test func touchWithoutContentChangeRerunsNothing() throws {
        let dir = try workspace()
        _ = try ran(dir, ["run"])
        let later = Date().addingTimeInterval(10)
        try FileManager.default.setAttributes([.modificationDate: later], ofItemAtPath: dir.path + "/src/a.txt")
        #expect(try ran(dir, ["run"]) == [])
    }

    @Test func setRerunsOnlyStepsUsingTheVariableAndSettingItBackRestores() throws {
        let dir = try workspace()
        _ = try ran(dir, ["run"])
        #expect(try ran(dir, ["run", "--set", "greeting=hi"]) == ["c", "d"])
        #expect(try dir.read("build/d.out") == "ALP\nhi\ngamma\n")
        let status = try FlowBinary.run(["status", "--set", "greeting=hello"], in: dir.path)
        #expect(status.stdout.contains("restorable"), "\(status)")
        // Back to the old value: both results come back from the cache, nothing runs.
        #expect(try ran(dir, ["run", "--set", "greeting=hello"]) == [])
        #expect(try dir.read("build/d.out") == "ALP\nhello\ngamma\n")
        // A variable no step uses changes nothing.
        #expect(try ran(dir, ["run", "--set", "unused=2"]) == [])
    }

    @Test func deletedOrEditedOutputsAreRestoredWithoutRunning() throws {
        let dir = try workspace()
        _ = try ran(dir, ["run"])
        try FileManager.default.removeItem(atPath: dir.path + "/build/d.out")
        try dir.write("build/b.out", "edited\n")
        let status = try FlowBinary.run(["status"], in: dir.path)
        #expect(status.stdout.contains("output missing: build/d.out"), "\(status)")
        #expect(status.stdout.contains("output modified: build/b.out"), "\(status)")
        #expect(try ran(dir, ["run"]) == [])
        #expect(try dir.read("build/b.out") == "ALP\n")
        #expect(try dir.read("build/d.out") == "ALP\nhello\ngamma\n")
    }

    @Test func identicalBytesStopPropagation() throws {
        let dir = try workspace()
        _ = try ran(dir, ["run"])
        // 'alpine' gives a new a.out (ALPINE) but the same first three letters in b.out.
        try dir.write("src/a.txt", "alpine\n")
        #expect(try ran(dir, ["run"]) == ["a", "b"])
    }

    @Test func failingStepIsNotCachedAndKeepGoingRunsIndependentSteps() throws {
        let dir = try workspace()
        try dir.write("flow.dag", Self.dag.replacingOccurrences(of: "cut -c1-3 {in} > {out}", with: "echo boom; exit 3"))
        let r = try FlowBinary.run(["run", "-k", "-j", "1"], in: dir.path)
        #expect(r.status == 1)
        #expect(r.stderr.contains("FAILED b: exit status 3"), "\(r)")
        #expect(r.stderr.contains("| boom"), "\(r)")
        let log = try dir.read("ran.log")
        #expect(log.contains("a") && log.contains("c") && !log.contains("d"))
        try FileManager.default.removeItem(atPath: dir.path + "/ran.log")
        // Still stale: the failure was not cached; a and c are.
        try dir.write("flow.dag", Self.dag)
        #expect(try ran(dir, ["run"]) == ["b", "d"])
    }

    @Test func withoutKeepGoingNothingNewStartsAfterAFailure() throws {
        let dir = try workspace()
        try dir.write("flow.dag", Self.dag.replacingOccurrences(of: "tr a-z A-Z < {in} > {out}", with: "exit 1"))
        let r = try FlowBinary.run(["run", "-j", "1"], in: dir.path)
        #expect(r.status == 1, "\(r)")
        #expect(!((try? dir.read("ran.log")) ?? "").contains("d"))
    }

    @Test func stepThatDoesNotWriteItsOutputFails() throws {
        let dir = TemporaryDirectory("flow-e2e")
        try dir.write("flow.dag", "step a\n  out x.txt\n  run true\n")
        let r = try FlowBinary.run(["run"], in: dir.path)
        #expect(r.status == 1)
        #expect(r.stderr.contains("exited 0 without producing its declared output 'x.txt'"), "\(r)")
    }

    @Test func stepThatChangesItsInputFails() throws {
        let dir = TemporaryDirectory("flow-e2e")
        try dir.write("in.txt", "x\n")
        try dir.write("flow.dag", "step a\n  in in.txt\n  out out.txt\n  run echo y >> in.txt; cp in.txt out.txt\n")
        let r = try FlowBinary.run(["run"], in: dir.path)
        #expect(r.status == 1)
        #expect(r.stderr.contains("changed its input 'in.txt' while running"), "\(r)")
    }

    @Test func dagErrorsArePrintedWithLocationAndNothingRuns() throws {
        let dir = TemporaryDirectory("flow-e2e")
        try dir.write("flow.dag", "step a\n  out x.txt\n  run echo {greting} > {out}\n")
        let r = try FlowBinary.run(["run"], in: dir.path)
        #expect(r.status == 65)
        #expect(r.stderr.hasPrefix("flow.dag:3:13: error: unknown variable '{greting}'\n  run echo {greting} > {out}\n            ^\n"), "\(r)")
        #expect(!dir.exists("x.txt"))
    }

    @Test func fanOutOverARangeAndAGlobIsOneCachedStepPerItem() throws {
        let dir = TemporaryDirectory("flow-e2e")
        try dir.write("src/p.txt", "p\n")
        try dir.write("src/q.txt", "q\n")
        try dir.write("flow.dag", """
            let n = 3
            step gen[i in 0..<{n}]
              out gen/{i:03}.txt
              run echo {i} > {out}; echo gen{i} >> ran.log
            step copy[f in src/*.txt]
              in {f}
              out copies/{f.stem}.txt
              run cp {in} {out}; echo copy-{f.stem} >> ran.log
            """)
        #expect(try ran(dir, ["run"]) == ["copy-p", "copy-q", "gen0", "gen1", "gen2"])
        #expect(try dir.read("gen/002.txt") == "2\n")
        #expect(try ran(dir, ["run", "--set", "n=4"]) == ["gen3"])
        try dir.write("src/r.txt", "r\n")
        #expect(try ran(dir, ["run", "--set", "n=4"]) == ["copy-r"])
    }

    @Test func directoryOutputsAndReadingOneFileOfThem() throws {
        let dir = TemporaryDirectory("flow-e2e")
        try dir.write("flow.dag", """
            let v = 1
            step make
              out d/
              run echo {v} > d/one.txt; echo same > d/two.txt; echo make >> ran.log
            step use
              in d/two.txt
              out two.copy
              run cp {in} {out}; echo use >> ran.log
            """)
        #expect(try ran(dir, ["run"]) == ["make", "use"])
        // one.txt changes, two.txt does not: the reader of two.txt does not rerun.
        #expect(try ran(dir, ["run", "--set", "v=2"]) == ["make"])
        try FileManager.default.removeItem(atPath: dir.path + "/d")
        #expect(try ran(dir, ["run", "--set", "v=2"]) == [])
        #expect(try dir.read("d/one.txt") == "2\n")
    }

    @Test func dryRunSaysWhatWouldRunAndWhyAndRunsNothing() throws {
        let dir = try workspace()
        _ = try ran(dir, ["run"])
        try dir.write("src/a.txt", "omega\n")
        let r = try FlowBinary.run(["run", "-n"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("would run a: input changed: src/a.txt"), "\(r)")
        #expect(r.stdout.contains("would run b: upstream a must run"), "\(r)")
        #expect(!dir.exists("ran.log"))
    }

    @Test func statusJSONAndTargets() throws {
        let dir = try workspace()
        _ = try ran(dir, ["run", "b"])
        let r = try FlowBinary.run(["status", "--json"], in: dir.path)
        let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let steps = report["steps"] as! [[String: Any]]
        let states = Dictionary(uniqueKeysWithValues: steps.map { ($0["step"] as! String, $0["state"] as! String) })
        #expect(states == ["a": "fresh", "b": "fresh", "c": "stale", "d": "stale"])
        let unknown = try FlowBinary.run(["run", "bb"], in: dir.path)
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("no step named 'bb'; did you mean 'b'?"), "\(unknown)")
    }
}
