import Foundation
import Testing
@testable import FlowReport

/// The report of the workspace's results: the runs that made them, a row per step instance,
/// the log's tail escaped.
@Suite struct ResultsRenderingTests {
    @Test func rowsNameTheRunThatMadeEachResult() {
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        let graph = GraphModel(nodes: [GraphNode(id: "n0", label: "a", state: .fresh, members: ["a"], counts: [.fresh: 1])], edges: [])
        var made = StepRow(name: "a", state: "succeeded", started: t0 + 1, ended: t0 + 3)
        made.run = 1
        made.now = "fresh"
        made.log = ".flow/logs/1/a.log"
        made.logTail = "<script>x</script>"
        var never = StepRow(name: "b", state: "", started: nil, ended: nil)
        never.now = "not produced"
        var r = RunReport(workflowFile: "w.dag", run: nil, graph: graph, steps: [made, never], generated: t0 + 100)
        r.results = ResultsInfo(runs: [RunInfo(id: 1, command: "flow run", startedAt: t0, endedAt: t0 + 4, status: "succeeded",
                                               summary: "1 ran", variables: "")],
                                newest: RunInfo(id: 2, command: "flow run", startedAt: t0 + 50, endedAt: t0 + 50.1,
                                                status: "succeeded", summary: "1 cached", variables: "C=<1>"))
        let html = r.html()
        #expect(RunReport.sectionIDs(in: html) == ["graph", "timeline", "steps"])
        #expect(html.contains("results in the workspace: 1 of 2 step instances · made by run 1"))
        #expect(html.contains("newest run 2 · succeeded"))
        #expect(html.contains("C=&lt;1&gt;"))
        #expect(html.contains("<td class=\"name\">a</td><td><span class=\"state fresh\">fresh</span></td><td>run 1</td>"))
        #expect(html.contains("<td class=\"num\">2.00s</td>"))
        #expect(html.contains("<span class=\"state not-produced\">not produced</span></td><td></td>"))
        #expect(html.contains("<pre>&lt;script&gt;x&lt;/script&gt;</pre>") && !html.contains("<script>x"))
        #expect(html.components(separatedBy: "<rect class=\"bar\"").count - 1 == 1, "run 1's timeline has a's bar")
    }

    @Test func stepsThatExpandLaterAreRowsThatSaySo() {
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        let graph = GraphModel(nodes: [GraphNode(id: "n0", label: "split", state: .stale, members: ["split"], counts: [.stale: 1])], edges: [])
        var split = StepRow(name: "split", state: "", started: nil, ended: nil)
        split.now = "not produced"
        var stats = StepRow(name: "stats[*]", state: "", started: nil, ended: nil)
        stats.now = "waits"
        stats.expandsAfter = "split"
        var report = StepRow(name: "report", state: "", started: nil, ended: nil)
        report.now = "waits"
        report.expandsAfter = "split"
        var r = RunReport(workflowFile: "w.dag", run: nil, graph: graph, steps: [split, stats, report], generated: t0)
        r.results = ResultsInfo(runs: [], newest: nil)
        let html = r.html()
        #expect(RunReport.sectionIDs(in: html) == ["graph", "steps"])
        #expect(html.contains("results in the workspace: 0 of 1 step instances · stats[*] and report expand after split"), "\(html)")
        #expect(html.contains("<td class=\"name\">stats[*]</td><td><span class=\"state waits\">waits</span> expands after split</td>"), "\(html)")
    }
}
