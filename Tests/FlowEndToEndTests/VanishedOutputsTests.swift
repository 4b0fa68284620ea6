import Foundation
import FlowTestSupport
import Testing

/// Outputs belong to the step instances that declare them: when an instance leaves the
/// workflow, its outputs leave the workspace before anything reads them, and nothing a user
/// wrote by hand is ever removed.
@Suite struct VanishedOutputsTests {
    static let shards = """
        let n_shards = 5
        step prep[i in 0..<{n_shards}]
          out data/shards/{i}.txt
          run echo shard {i} > {out}
        step features[i in 0..<{n_shards}]
          in  data/shards/{i}.txt
          out data/feat/shard-{i}.txt
          run tr a-z A-Z < {in} > {out}
        step join
          in  data/feat/
          out joined = data/joined.txt
          out count = data/count.txt
          run cat data/feat/* > {out.joined}; ls data/feat | wc -l | tr -d ' ' > {out.count}
        """

    @Test func aSmallerFanOutRemovesTheVanishedInstancesOutputsAndTheJoinSeesIt() throws {
        let dir = TemporaryDirectory("flow-vanish")
        try dir.write("flow.dag", Self.shards)
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        #expect(try dir.read("data/count.txt") == "5\n")

        let status = try FlowBinary.run(["status", "--set", "n_shards=4"], in: dir.path)
        #expect(status.stdout.contains("orphaned: data/feat/shard-4.txt (an output of features[4]"), "\(status)")
        #expect(status.stdout.contains("join") && status.stdout.contains("stale"), "\(status)")
        #expect(try FlowBinary.run(["status", "--check", "--set", "n_shards=4"], in: dir.path).status == 1)

        let dry = try FlowBinary.run(["run", "-n", "--set", "n_shards=4"], in: dir.path)
        #expect(dry.stdout.contains("would remove data/feat/shard-4.txt"), "\(dry)")
        #expect(dir.exists("data/feat/shard-4.txt"), "a dry run removed something")

        let r = try FlowBinary.run(["run", "--set", "n_shards=4"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("removed data/feat/shard-4.txt") && r.stdout.contains("removed data/shards/4.txt"), "\(r)")
        #expect(!dir.exists("data/feat/shard-4.txt"))
        #expect(try dir.read("data/count.txt") == "4\n", "join read the output of a vanished step")
        #expect(try FlowBinary.run(["status", "--check", "--set", "n_shards=4"], in: dir.path).status == 0)

        // Back to 5: everything comes back from the cache, nothing runs.
        let back = try FlowBinary.run(["run"], in: dir.path)
        #expect(back.status == 0 && !back.stdout.contains("ran "), "\(back)")
        #expect(try dir.read("data/count.txt") == "5\n")
    }

    @Test func aDeletedSweepInputRemovesItsResultFromTheReport() throws {
        let dir = TemporaryDirectory("flow-vanish")
        for c in ["1", "10", "100"] { try dir.write("configs/C-\(c).json", "{\"C\": \(c)}\n") }
        try dir.write("flow.dag", """
            step train[cfg in configs/C-*.json]
              in  {cfg}
              out results/{cfg.stem}.txt
              run cat {cfg} > {out}
            step report
              in  results/
              out report.txt
              run cat results/* > {out}
            """)
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        #expect(try dir.read("report.txt").contains("100"))
        try FileManager.default.removeItem(atPath: dir.path + "/configs/C-100.json")
        let status = try FlowBinary.run(["status", "--check"], in: dir.path)
        #expect(status.status == 1, "\(status)")
        #expect(status.stdout.contains("orphaned: results/C-100.txt"), "\(status)")
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        #expect(!(try dir.read("report.txt")).contains("100"), "the report still has a row for the deleted config")
        #expect(try FlowBinary.run(["status", "--check"], in: dir.path).status == 0)
    }

    @Test func aFileTheUserChangedIsKeptNotRemoved() throws {
        let dir = TemporaryDirectory("flow-vanish")
        try dir.write("flow.dag", Self.shards)
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        try dir.write("data/feat/shard-4.txt", "edited by hand\n")
        try dir.write("data/feat/notes.txt", "written by hand\n")
        let r = try FlowBinary.run(["run", "--set", "n_shards=4"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.contains("kept data/feat/shard-4.txt"), "\(r)")
        #expect(try dir.read("data/feat/shard-4.txt") == "edited by hand\n")
        #expect(try dir.read("data/feat/notes.txt") == "written by hand\n")
    }

    @Test func cleanRemovesWhatFlowProducedAndRunBringsItBack() throws {
        let dir = TemporaryDirectory("flow-vanish")
        try dir.write("flow.dag", Self.shards)
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        try dir.write("data/feat/notes.txt", "written by hand\n")
        let one = try FlowBinary.run(["clean", "join"], in: dir.path)
        #expect(one.status == 0 && one.stdout.contains("removed data/joined.txt (join)") && one.stdout.contains("removed 2 outputs"), "\(one)")
        #expect(dir.exists("data/feat/shard-0.txt"))
        let all = try FlowBinary.run(["clean"], in: dir.path)
        #expect(all.status == 0 && all.stdout.contains("removed 10 outputs"), "\(all)")
        #expect(try dir.read("data/feat/notes.txt") == "written by hand\n")
        let back = try FlowBinary.run(["run"], in: dir.path)
        // Everything comes back from the cache but join, whose directory input gained notes.txt.
        #expect(back.status == 0 && !back.stdout.contains("ran features") && !back.stdout.contains("ran prep"), "\(back)")
        #expect(back.stdout.contains("ran join"), "\(back)")
        #expect(try dir.read("data/count.txt") == "6\n", "notes.txt is a source file of data/feat/ and counts")
        // Orphans only.
        #expect(try FlowBinary.run(["run", "-q", "--set", "n_shards=6"], in: dir.path).status == 0)
        let orphans = try FlowBinary.run(["clean", "--orphans"], in: dir.path)
        #expect(orphans.stdout.contains("removed data/feat/shard-5.txt (features[5])") && orphans.stdout.contains("removed 2 outputs"), "\(orphans)")
    }

    @Test func aRestoredStepIsExplainedByWhatChangedNotByItsOutputs() throws {
        let dir = TemporaryDirectory("flow-vanish")
        try dir.write("flow.dag", """
            let rows = 600
            step data
              out data/raw.txt
              run seq 1 {rows} > {out}
            """)
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        #expect(try FlowBinary.run(["run", "-q", "--set", "rows=500"], in: dir.path).status == 0)
        // Back to 600: restorable, because of the variable, not because the output "was modified".
        let status = try FlowBinary.run(["status"], in: dir.path)
        #expect(status.stdout.contains("restorable") && status.stdout.contains("variable rows changed 500 → 600"), "\(status)")
        let dry = try FlowBinary.run(["run", "-n"], in: dir.path)
        #expect(dry.stdout.contains("variable rows changed 500 → 600"), "\(dry)")
        let run = try FlowBinary.run(["run"], in: dir.path)
        #expect(run.stdout.contains("restored data") && run.stdout.contains("variable rows changed 500 → 600"), "\(run)")
        let explain = try FlowBinary.run(["explain", "data"], in: dir.path)
        #expect(explain.stdout.contains("fresh"), "\(explain)")
    }
}
