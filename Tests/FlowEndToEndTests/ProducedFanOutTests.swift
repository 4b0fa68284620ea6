import Foundation
import FlowTestSupport
import Testing

/// A fan-out over files that an upstream step writes expands once that step has a result, in
/// the same run; growing and shrinking the produced set takes one run each.
@Suite struct ProducedFanOutTests {
    static let dag = """
        step split
          in  data/all.txt
          out data/by_class/
          run mkdir -p data/by_class && for c in $(cat data/all.txt); do echo "class $c" > data/by_class/$c.npy; done
        step stats[f in data/by_class/*.npy]
          out stats/{f.stem}.txt
          run echo "stats of $(cat {f})" > {out}; echo {f.stem} >> ran.log
        step report
          in  stats[*]
          out report.txt
          run cat {in} > {out}
        """

    func workspace(_ classes: String) throws -> TemporaryDirectory {
        let dir = TemporaryDirectory("flow-produced")
        try dir.write("flow.dag", Self.dag)
        try dir.write("data/all.txt", classes + "\n")
        return dir
    }

    func ranStats(_ dir: TemporaryDirectory) -> [String] {
        defer { try? FileManager.default.removeItem(atPath: dir.path + "/ran.log") }
        return ((try? dir.read("ran.log")) ?? "").split(separator: "\n").map(String.init).sorted()
    }

    /// A target that neither is nor needs a step that expands later: the run is complete
    /// without that step; naming the fan-out (or what reads it) still expands and runs it.
    @Test func aTargetUnrelatedToWhatExpandsLaterIsACompleteRun() throws {
        let dir = try workspace("a b")
        try dir.write("flow.dag", Self.dag + "\nstep cfg\n  out cfg.txt\n  run echo c > {out}\n")
        let r = try FlowBinary.run(["run", "cfg"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        #expect(!r.stderr.contains("was not expanded"), "\(r)")
        #expect(try dir.read("cfg.txt") == "c\n")
        #expect(!dir.exists("data/by_class"), "split is not needed by cfg")
        let report = try FlowBinary.run(["run", "report"], in: dir.path)
        #expect(report.status == 0, "\(report)")
        #expect(ranStats(dir) == ["a", "b"])
    }

    @Test func theFirstRunDoesAllTheWork() throws {
        let dir = try workspace("a b c")
        let before = try FlowBinary.run(["status"], in: dir.path)
        #expect(before.stdout.contains("stats[*]") && before.stdout.contains("expands after split"), "\(before)")
        let dry = try FlowBinary.run(["run", "-n"], in: dir.path)
        #expect(dry.stdout.contains("expands after split"), "\(dry)")
        let graph = try FlowBinary.run(["graph", "--format", "mermaid"], in: dir.path)
        #expect(graph.stdout.contains("n1[\"stats[*]<br/>expands after split\"]:::waits"), "\(graph)")
        let r = try FlowBinary.run(["run"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        #expect(ranStats(dir) == ["a", "b", "c"])
        #expect(try dir.read("report.txt") == "stats of class a\nstats of class b\nstats of class c\n")
        let check = try FlowBinary.run(["status", "--check"], in: dir.path)
        #expect(check.status == 0, "\(check)")
        let drawn = try FlowBinary.run(["graph", "--format", "mermaid"], in: dir.path)
        #expect(drawn.stdout.contains("stats[data/by_class/b.npy]"), "expanded once split has a result: \(drawn)")
        let again = try FlowBinary.run(["run"], in: dir.path)
        #expect(again.status == 0 && !again.stdout.contains("ran "), "\(again)")
    }

    @Test func graphAndReportDrawWhatExpandsLaterAsOneNode() throws {
        let dir = try workspace("a b c")
        let dot = try FlowBinary.run(["graph"], in: dir.path)
        #expect(dot.status == 0 && dot.stderr.isEmpty, "\(dot)")
        #expect(dot.stdout.contains(##"n1 [label="stats[*]\nexpands after split""##), "\(dot)")
        #expect(dot.stdout.contains(##"n2 [label="report\nexpands after split""##), "\(dot)")
        #expect(dot.stdout.contains("n0 -> n1;\n  n1 -> n2;\n}"), "\(dot)")
        // Named as a target: what it waits for, and itself.
        let named = try FlowBinary.run(["graph", "--format", "mermaid", "stats"], in: dir.path)
        #expect(named.stdout.contains("n0[\"split\"]:::stale\n  n1[\"stats[*]<br/>expands after split\"]:::waits\n  n0 --> n1\n"), "\(named)")
        #expect(!named.stdout.contains("report"), "\(named)")

        let report = try FlowBinary.run(["report", "-o", "r.html"], in: dir.path)
        #expect(report.status == 0, "\(report)")
        let html = try dir.read("r.html")
        #expect(html.contains("results in the workspace: 0 of 1 step instances · stats[*] and report expand after split"), "\(html)")
        #expect(html.contains("<td class=\"name\">report</td><td><span class=\"state waits\">waits</span> expands after split</td>"), "\(html)")
        #expect(html.contains("<title>stats[*]: expands after split</title>"), "the graph draws it")

        // Once split has run, the instances are drawn instead.
        #expect(try FlowBinary.run(["run", "-q", "split"], in: dir.path).status == 0)
        let after = try FlowBinary.run(["graph", "--format", "mermaid"], in: dir.path)
        #expect(after.stdout.contains("stats[data/by_class/a.npy]") && !after.stdout.contains("expands after"), "\(after)")
    }

    @Test func shrinkingAndGrowingTheProducedSetTakeOneRunEach() throws {
        let dir = try workspace("a b c")
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        _ = ranStats(dir)
        try dir.write("data/all.txt", "a c\n")
        let shrink = try FlowBinary.run(["run"], in: dir.path)
        #expect(shrink.status == 0, "\(shrink)")
        #expect(ranStats(dir) == [], "a and c are keyed by their own files only")
        #expect(!dir.exists("stats/b.txt"))
        #expect(try dir.read("report.txt") == "stats of class a\nstats of class c\n")
        #expect(try FlowBinary.run(["status", "--check"], in: dir.path).status == 0)

        try dir.write("data/all.txt", "a c d\n")
        let grow = try FlowBinary.run(["run"], in: dir.path)
        #expect(grow.status == 0, "\(grow)")
        #expect(ranStats(dir) == ["d"])
        #expect(try dir.read("report.txt") == "stats of class a\nstats of class c\nstats of class d\n")
        #expect(try FlowBinary.run(["status", "--check"], in: dir.path).status == 0)
    }

    @Test func aDryRunThatExpandsNamesEachOutputToRemoveOnce() throws {
        // A range fan-out beside the produced-file one: its shrinking leaves an output to remove,
        // and the dry run looks for such outputs again once stats expands after split.
        let dir = try workspace("a b c")
        try dir.write("flow.dag", "let n = 3\n" + Self.dag + """

            step part[i in 0..<{n}]
              out parts/{i}.txt
              run echo {i} > {out}
            """)
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        try dir.write("data/all.txt", "a b\n")
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        // Back to a, b, c: split's result is in the cache, so the dry run restores it and expands.
        try dir.write("data/all.txt", "a b c\n")
        let dry = try FlowBinary.run(["run", "-n", "--set", "n=2"], in: dir.path)
        #expect(dry.status == 0, "\(dry)")
        #expect(dry.stdout.contains("restored stats[data/by_class/c.npy]"), "\(dry)")
        let notes = (dry.stdout + dry.stderr).split(separator: "\n").filter { $0.contains("would remove") }
        #expect(notes == ["flow: would remove parts/2.txt: an output of part[2], which is no longer in the workflow"], "\(dry)")
        #expect(dir.exists("parts/2.txt"), "a dry run removes nothing")
    }
}
