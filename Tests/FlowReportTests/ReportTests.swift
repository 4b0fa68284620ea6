import Foundation
import FlowCore
import FlowTestSupport
import Testing
@testable import FlowReport

/// The HTML report: escaping, sections, artifact readers.
@Suite struct ReportRenderingTests {
    @Test func escapeCoversMarkupQuotesAndControls() {
        #expect(HTML.escape(#"<a href="x">'&'</a>"#) == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
        #expect(HTML.escape("a\u{1}b\tc") == "a\u{FFFD}b\tc")
        #expect(HTML.num(1.0) == "1" && HTML.num(2.345) == "2.35" && HTML.num(-0.001) == "0" && HTML.num(.nan) == "0")
    }

    func report(steps: [StepRow]) -> RunReport {
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        let graph = GraphModel(nodes: [
            GraphNode(id: "n0", label: "<script>alert(1)</script>", state: .failed, members: ["x"], counts: [.failed: 1]),
        ], edges: [])
        var r = RunReport(workflowFile: "w&.dag", run: RunInfo(id: 3, command: "flow run --set a=<b>", startedAt: t0,
                                                               endedAt: t0 + 10, status: "failed", summary: "1 ran, 1 failed",
                                                               variables: "a=<b>"),
                          graph: graph, steps: steps, generated: t0 + 11)
        r.lossCurves = [LossCurve(step: "train", path: "logs/train.jsonl",
                                  series: [.init(name: "loss", points: [(0, 5), (10, 3), (20, 2)])])]
        r.clusterSizes = [ClusterSizes(step: "sample", path: "s.json", levels: [.init(level: 1, before: [5, 9, 1], after: [3, 3, 1])])]
        r.accuracy = [AccuracyRow(model: "teacher", detail: "models/teacher.safetensors", knnTop1: 0.5, knnK: 20, linearTop1: 0.625)]
        return r
    }

    @Test func allSectionsAreThereAndTextIsEscaped() {
        let t0 = Date(timeIntervalSince1970: 1_700_000_000)
        let html = report(steps: [
            StepRow(name: "<script>alert(1)</script>", state: "failed", started: t0 + 1, ended: t0 + 4, attempt: 2, exitStatus: 3),
            StepRow(name: "pool", state: "cached", started: nil, ended: t0 + 0.5, outputSize: 12_500),
        ]).html()
        for id in ["graph", "timeline", "steps", "loss", "clusters", "accuracy"] {
            #expect(html.contains("<section id=\"\(id)\">"), "missing section \(id)")
        }
        #expect(!html.contains("<script>alert"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("w&amp;.dag"))
        #expect(html.contains("a=&lt;b&gt;"))
        #expect(!html.lowercased().contains("http"))
        #expect(!html.contains(" src="))
        #expect(html.contains("62.5%") && html.contains("50.0%") && html.contains("(k=20)"))
        #expect(html.contains("12.5 KB"))
        #expect(html.contains("(exit 3)"))
        // Every <svg> is closed, every <section> too.
        #expect(html.components(separatedBy: "<svg").count == html.components(separatedBy: "</svg>").count)
        #expect(html.components(separatedBy: "<section").count == html.components(separatedBy: "</section>").count)
    }

    @Test func emptySectionsAreLeftOut() {
        var r = report(steps: [])
        r.lossCurves = []
        r.clusterSizes = []
        r.accuracy = []
        let html = r.html()
        #expect(html.contains("<section id=\"graph\">"))
        for id in ["timeline", "steps", "loss", "clusters", "accuracy"] { #expect(!html.contains("<section id=\"\(id)\">")) }
    }

    @Test func timelinePlacesBarsByTime() {
        let t0 = Date(timeIntervalSince1970: 0)
        let svg = Chart.timeline([StepRow(name: "a", state: "succeeded", started: t0, ended: t0 + 5),
                                  StepRow(name: "b", state: "succeeded", started: t0 + 5, ended: t0 + 10)],
                                 start: t0, end: t0 + 10, width: 1000)
        // Plot area: x from 200 to 984 (16 px right margin); a ends where b starts, at the middle.
        #expect(svg.contains("<rect class=\"bar\" x=\"200\" y=\"11\" width=\"392\""))
        #expect(svg.contains("<rect class=\"bar\" x=\"592\" y=\"29\" width=\"392\""))
    }

    @Test func niceTicks() {
        #expect(Chart.niceTicks(0, 10) == [0, 2, 4, 6, 8, 10])
        #expect(Chart.niceTicks(0.13, 0.87, count: 4) == [0.2, 0.4, 0.6, 0.8])
        #expect(Chart.niceTicks(3, 3) == [3])
    }
}

/// Reading artifacts: training logs, sample-clusters reports, eval metrics.
@Suite struct ReportArtifactTests {
    @Test func lossCurveReadsStepAndLossAndSkipsOtherLines() throws {
        let dir = TemporaryDirectory("flow-report")
        try dir.write("train.jsonl", """
            {"step": 0, "epoch": 0, "loss": 11.5, "dino": 10.0, "ibot": 1.0, "koleo": 0.5, "lr": 0.001}
            not json
            {"event": "checkpoint"}
            {"step": 10, "epoch": 0, "loss": 9.25, "dino": 8.0, "ibot": 1.0, "koleo": 0.25, "lr": 0.002}

            """)
        let series = try #require(ReportArtifacts.lossCurve(path: dir.path + "/train.jsonl"))
        #expect(series.map(\.name) == ["loss", "dino", "ibot", "koleo"])
        #expect(series[0].points.map(\.x) == [0, 10])
        #expect(series[0].points.map(\.y) == [11.5, 9.25])
        try dir.write("other.jsonl", "{\"step\": 1, \"acc\": 0.5}\n")
        #expect(ReportArtifacts.lossCurve(path: dir.path + "/other.jsonl") == nil)
    }

    @Test func longLogsAreThinnedKeepingEnds() {
        let points = (0..<10_000).map { (x: Double($0), y: Double($0)) }
        let thin = ReportArtifacts.thin(points)
        #expect(thin.count == ReportArtifacts.maxPoints)
        #expect(thin.first!.x == 0 && thin.last!.x == 9_999)
    }

    @Test func clusterLevelsFromSampleReport() throws {
        let json = #"{"target": 4, "levels": [{"level": 1, "sizes_before": [3, 2], "sizes_after": [2, 2]}, {"level": 2, "sizes_before": [5], "sizes_after": [4]}]}"#
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let levels = try #require(ReportArtifacts.clusterLevels(object))
        #expect(levels.map(\.level) == [1, 2])
        #expect(levels[0].before == [3, 2] && levels[0].after == [2, 2])
        #expect(ReportArtifacts.clusterLevels(["levels": [["sizes_before": ["x"], "sizes_after": []]]]) == nil)
    }

    @Test func accuracyRowsGroupByModelOrStepName() throws {
        let dir = TemporaryDirectory("flow-report")
        try dir.write("flow.dag", """
            step knn-random
              out m/knn-random.json
              run true
            step knn-teacher
              out m/knn-teacher.json
              run true
            step eval-linear-teacher
              out m/linear-teacher.json
              run true
            step probe
              out m/probes/
              run true
            """)
        try dir.write("m/knn-random.json", #"{"eval": "knn", "results": [{"k": 10, "top1": 0.1}, {"k": 20, "top1": 0.125}]}"#)
        try dir.write("m/knn-teacher.json", #"{"eval": "knn", "results": [{"k": 20, "top1": 0.75}]}"#)
        try dir.write("m/linear-teacher.json", #"{"eval": "linear", "val_top1": 0.8}"#)
        try dir.write("m/probes/student.json", #"{"eval": "linear", "model": "models/student.safetensors", "val_top1": 0.7}"#)
        let wf = try WorkflowLoader(workspace: InMemoryWorkspace(["flow.dag": try dir.read("flow.dag")]), ops: FakeOps())
            .load(file: "flow.dag", overrides: [:])
        var report = RunReport(workflowFile: "flow.dag", run: nil, graph: GraphModel(nodes: [], edges: []), steps: [])
        ReportArtifacts.collect(workflow: wf, root: dir.path, into: &report)
        #expect(report.accuracy.map(\.model) == ["random", "teacher", "student"])
        #expect(report.accuracy[0].knnTop1 == 0.125 && report.accuracy[0].knnK == 20 && report.accuracy[0].linearTop1 == nil)
        #expect(report.accuracy[1].knnTop1 == 0.75 && report.accuracy[1].linearTop1 == 0.8)
        #expect(report.accuracy[2].linearTop1 == 0.7 && report.accuracy[2].detail == "models/student.safetensors")
    }
}
