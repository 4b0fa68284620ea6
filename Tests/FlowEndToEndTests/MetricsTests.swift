import Foundation
import FlowTestSupport
import Testing

/// `flow metrics`: every metrics file of the workflow as one table, sweep instances as rows with
/// their variables as columns; `flow metrics diff` against a run's results in the cache.
@Suite struct MetricsTests {
    static let dag = #"""
        let Cs = 0.1, 1
        step train[C in {Cs}, seed in 0..<2]
          metrics results/{C}-{seed}.json
          run awk 'BEGIN {{ printf "{{\"val\": {{\"top1\": %.3f}}, \"ok\": true}}", {C} * 0.1 + {seed} * 0.001 }}' > {out}
        step eval
          metrics eval.yaml
          run printf 'knn:\n  top1: 0.25  # k = 20\nlinear: 0.3\n' > {out}
        """#

    @Test func oneTableWithTheSweepsVariablesAsColumns() throws {
        let dir = TemporaryDirectory("flow-metrics")
        try dir.write("flow.dag", Self.dag)
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        let table = try FlowBinary.run(["metrics"], in: dir.path)
        #expect(table.status == 0, "\(table)")
        let lines = table.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(lines == [
            "step C seed val.top1 ok knn.top1 linear",
            "train[0.1,0] 0.1 0 0.01 true - -",
            "train[0.1,1] 0.1 1 0.011 true - -",
            "train[1,0] 1 0 0.1 true - -",
            "train[1,1] 1 1 0.101 true - -",
            "eval - - 0.25 0.3",
        ], "\(table)")
        let md = try FlowBinary.run(["metrics", "--md"], in: dir.path)
        #expect(md.stdout.hasPrefix("| step | C | seed | val.top1 | ok | knn.top1 | linear |\n| --- |"), "\(md)")
        let json = try FlowBinary.run(["metrics", "--json"], in: dir.path)
        let rows = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
        #expect((rows?.first?["parameters"] as? [String: String]) == ["C": "0.1", "seed": "0"], "\(json)")
    }

    @Test func diffAgainstTheResultsRecordedAtAGitRevision() throws {
        let dir = TemporaryDirectory("flow-metrics-rev")
        func git(_ args: String...) throws {
            let r = try FlowBinary.runProgram("git", ["-c", "user.name=t", "-c", "user.email=t@example.org"] + args, in: dir.path)
            #expect(r.status == 0, "\(r)")
        }
        try git("init", "-q")
        try dir.write(".gitignore", ".flow/\ncache/\nresults/\n")
        try dir.write("flow.dag", Self.dag)
        try git("add", ".")
        try git("commit", "-q", "-m", "first")
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        try dir.write("flow.dag", Self.dag.replacingOccurrences(of: "{C} * 0.1", with: "{C} * 0.2"))
        try git("commit", "-q", "-am", "second")
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        // Two runs since: the revision, not the order, picks the run.
        #expect(try FlowBinary.run(["run", "-q", "--force", "train"], in: dir.path).status == 0)
        let r = try FlowBinary.run(["metrics", "diff", "--rev", "HEAD~1", "--json"], in: dir.path)
        #expect(r.status == 0 && r.stdout.contains("\"run\" : 1"), "\(r)")
        #expect(r.stdout.contains("val.top1"), "\(r)")
        let none = try FlowBinary.run(["metrics", "diff", "--rev", "no-such-rev"], in: dir.path)
        #expect(none.status != 0 && none.stderr.contains("'no-such-rev' is not a git revision"), "\(none)")
    }

    @Test func diffAgainstAnEarlierRun() throws {
        let dir = TemporaryDirectory("flow-metrics")
        try dir.write("flow.dag", Self.dag)
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        try dir.write("flow.dag", Self.dag.replacingOccurrences(of: "top1: 0.25", with: "top1: 0.5"))
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        let diff = try FlowBinary.run(["metrics", "diff", "--run", "1"], in: dir.path)
        #expect(diff.status == 0, "\(diff)")
        let lines = diff.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(lines == ["step metric run 1 workspace change", "eval knn.top1 0.25 0.5 +0.25"], "\(diff)")
    }
}
