import Foundation
import FlowTestSupport
import Testing

/// `flow report` of the workspace's results (the default), of one run's record (`--run R`), and
/// its metrics section.
@Suite struct ReportResultsTests {
    static let loop = """
        step a
          out a.txt
          run echo a > {out}; sleep 0.3
        step b
          in  a.txt
          out b.txt
          run cat {in} > {out}; sleep 0.3
        """

    /// The row of `step` in the report's steps table.
    func row(_ html: String, _ step: String) -> String {
        guard let start = html.range(of: "<tr><td class=\"name\">\(step)</td>") else { return "" }
        return String(html[start.lowerBound...].prefix { $0 != "\n" })
    }

    @Test func dailyLoopReportsTheRunsThatMadeTheResults() throws {
        let dir = TemporaryDirectory("flow-report-results")
        try dir.write("flow.dag", Self.loop)
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        // The next day nothing changed: run 2 is all cache hits.
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        let r = try FlowBinary.run(["report", "-o", "r.html"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("(results in the workspace, made by run 1: graph, timeline, steps)"), "\(r)")
        let html = try dir.read("r.html")
        for step in ["a", "b"] {
            let cells = row(html, step)
            #expect(cells.contains("<span class=\"state fresh\">fresh</span></td><td>run 1</td>"), "\(step): \(cells)")
            #expect(cells.contains(".flow/logs/1/"), "the log of run 1: \(cells)")
            #expect(!cells.contains("<td class=\"num\"></td><td class=\"num\">"), "a finish time and a duration: \(cells)")
        }
        #expect(html.contains("newest run 2"), "the header names the newest run too")
        #expect(html.components(separatedBy: "<rect class=\"bar\"").count - 1 == 2, "run 1's bars, not run 2's cache hits")
        // Edit b: run 3 computes b again; a stays run 1's.
        try dir.write("flow.dag", Self.loop.replacingOccurrences(of: "cat {in} > {out}", with: "cat {in} {in} > {out}"))
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        let edited = try FlowBinary.run(["report", "-o", "r3.html"], in: dir.path)
        #expect(edited.stdout.contains("made by runs 3, 1:"), "\(edited)")
        let html3 = try dir.read("r3.html")
        #expect(row(html3, "a").contains("<td>run 1</td>"), "\(row(html3, "a"))")
        #expect(row(html3, "b").contains("<td>run 3</td>"), "\(row(html3, "b"))")
        #expect(row(html3, "b").contains(".flow/logs/3/"), "\(row(html3, "b"))")
    }

    @Test func runReportIsColouredByThatRunsRecord() throws {
        let dir = TemporaryDirectory("flow-report-results")
        try dir.write("flow.dag", """
            let Cs = 0.1
            step train[C in {Cs}]
              out results/{C}.txt
              run echo {C} > {out}
            """)
        #expect(try FlowBinary.run(["run", "-q", "--set", "Cs=0.1,1"], in: dir.path).status == 0)
        // Run 2 drops C=1: its output leaves the workspace, its result stays in the cache.
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        #expect(!dir.exists("results/1.txt"))
        let r = try FlowBinary.run(["report", "--run", "1", "-o", "r1.html"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        let html = try dir.read("r1.html")
        #expect(html.contains("class=\"node ran\"><title>train[1]: ran</title>"), "what train[1] did in run 1")
        #expect(html.contains("class=\"node ran\"><title>train[0.1]: ran</title>"))
        #expect(!html.contains("class=\"node restorable\""), "today's state must not colour run 1's graph")
        let second = try FlowBinary.run(["report", "--run", "2", "-o", "r2.html"], in: dir.path)
        #expect(second.status == 0, "\(second)")
        #expect(try dir.read("r2.html").contains("class=\"node cached\"><title>train[0.1]: cached</title>"))
    }

    static let sweep = #"""
        let Cs = 0.01, 0.1, 1
        step train[C in {Cs}]
          metrics results/{C}.json
          run awk 'BEGIN {{ printf "{{\"val\": {{\"top1\": %.3f, \"loss\": %.3f}}, \"ok\": true}}", 0.5 - {C} / 10, 1 / ({C} + 1) }}' > {out}
        step eval
          metrics eval.yaml
          run printf 'top1: 0.25\n' > {out}
        """#

    @Test func metricsSectionHasTheTableAndOnePlotPerMetric() throws {
        let dir = TemporaryDirectory("flow-report-metrics")
        try dir.write("flow.dag", Self.sweep)
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        let r = try FlowBinary.run(["report", "-o", "r.html"], in: dir.path)
        #expect(r.stdout.contains("made by run 1: graph, timeline, steps, metrics)"), "\(r)")
        let html = try dir.read("r.html")
        #expect(html.contains("<tr><th>step</th><th>C</th><th>val.top1</th><th>val.loss</th><th>ok</th><th>top1</th></tr>"))
        #expect(html.contains("<tr><td class=\"name\">train[0.01]</td><td class=\"num\">0.01</td><td class=\"num\">0.499</td><td class=\"num\">0.99</td><td class=\"num\">true</td><td class=\"num\">-</td></tr>"))
        #expect(html.contains("<td class=\"name\">eval</td><td class=\"num\"></td><td class=\"num\">-</td>"))
        // One plot per numeric metric of the sweep (not `ok`, not eval's), C on a log axis.
        #expect(html.components(separatedBy: "<figure class=\"sweep\">").count - 1 == 2)
        #expect(html.contains("aria-label=\"val.top1 against C\"") && html.contains("aria-label=\"val.loss against C\""))
        #expect(html.components(separatedBy: "<circle class=\"point\"").count - 1 == 6)
        #expect(html.contains(">C (log scale)</text>"))
        // --run 1 shows run 1's metrics, from the cache, after the workspace's changed.
        try dir.write("flow.dag", Self.sweep.replacingOccurrences(of: "top1: 0.25", with: "top1: 0.5"))
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        _ = try FlowBinary.run(["report", "--run", "1", "-o", "r1.html"], in: dir.path)
        #expect(try dir.read("r1.html").contains("<td class=\"name\">eval</td><td class=\"num\"></td><td class=\"num\">-</td><td class=\"num\">-</td><td class=\"num\">-</td><td class=\"num\">0.25</td>"))
    }
}
