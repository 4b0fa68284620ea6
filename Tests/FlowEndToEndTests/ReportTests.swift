import Foundation
import FlowTestSupport
import Testing

/// `flow report` end to end: a small workflow whose shell steps write a training log, a
/// sample-clusters report and eval metrics, then the HTML checked for its sections.
@Suite struct ReportCommandTests {
    static let dag = """
        step pool
          out data/pool.txt
          run echo pool > {out}
        step train
          in  data/pool.txt
          out logs/
          run for s in 0 1 2 3; do echo "{{\\"step\\": $s, \\"loss\\": 1$s.5, \\"dino\\": 9, \\"lr\\": 0.1}}" >> {out}/train.jsonl; done
        step sample
          in  data/pool.txt
          out curation/sample.json
          run echo '{{"target": 6, "levels": [{{"level": 1, "sizes_before": [9, 3, 1], "sizes_after": [3, 2, 1]}}]}}' > {out}
        step knn-random
          in  logs/
          out metrics/knn-random.json
          run echo '{{"eval": "knn", "model": "models/random.safetensors", "results": [{{"k": 20, "top1": 0.125}}]}}' > {out}
        step knn-teacher
          in  logs/
          out metrics/knn-teacher.json
          run echo '{{"eval": "knn", "model": "models/teacher.safetensors", "results": [{{"k": 10, "top1": 0.2}}, {{"k": 20, "top1": 0.25}}]}}' > {out}
        step linear-teacher
          in  logs/
          out metrics/linear-teacher.json
          run echo '{{"eval": "linear", "model": "models/teacher.safetensors", "val_top1": 0.75}}' > {out}
        """

    @Test func reportHasEverySectionAndNothingExternal() throws {
        let dir = TemporaryDirectory("flow-report")
        try dir.write("flow.dag", Self.dag)
        let run = try FlowBinary.run(["run"], in: dir.path)
        #expect(run.status == 0, "\(run)")
        let r = try FlowBinary.run(["report", "--out", "r.html"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("wrote r.html (results in the workspace, made by run 1: graph, timeline, steps, loss, clusters, accuracy)"), "\(r)")
        let html = try dir.read("r.html")
        for id in ["graph", "timeline", "steps", "loss", "clusters", "accuracy"] {
            #expect(html.contains("<section id=\"\(id)\">"), "missing \(id)")
        }
        #expect(!html.lowercased().contains("http"), "the report must not refer to anything external")
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.hasSuffix("</html>\n"))
        #expect(html.components(separatedBy: "<svg").count == html.components(separatedBy: "</svg>").count)
        #expect(html.contains("<td class=\"name\">teacher</td><td class=\"num\">25.0% <span class=\"dim\">(k=20)</span></td><td class=\"num\">75.0%</td>"),
                "one row for the teacher, k-NN and linear")
        #expect(html.contains("75.0%"))
        #expect(html.contains("<td class=\"name\">random</td><td class=\"num\">12.5%"))
        #expect(html.contains("level 1: 3 clusters, 13 points → 6; largest cluster 9 → 3"))
        #expect(html.contains("at step 3: loss 13.5, dino 9"))
        // Every step has a row in the table and a bar in the timeline.
        for step in ["pool", "train", "sample", "knn-random", "knn-teacher", "linear-teacher"] {
            #expect(html.contains("<td class=\"name\">\(step)</td>"), "no row for \(step)")
        }
        #expect(html.components(separatedBy: "<rect class=\"bar\"").count - 1 == 6)
        // A second run is all cached: the report of run 2 marks cache hits.
        _ = try FlowBinary.run(["run"], in: dir.path)
        _ = try FlowBinary.run(["report", "--run", "2", "-o", "r2.html"], in: dir.path)
        let cached = try dir.read("r2.html")
        #expect(cached.components(separatedBy: "<path class=\"hit\"").count - 1 == 6)
        #expect(cached.contains("<td>yes</td>"))
        // And run 1 can still be asked for.
        let old = try FlowBinary.run(["report", "--run", "1", "-o", "r1.html"], in: dir.path)
        #expect(old.stdout.contains("run 1:"), "\(old)")
    }

    @Test func userTextIsEscapedAndMissingRunsAreErrors() throws {
        let dir = TemporaryDirectory("flow-report")
        try dir.write("flow.dag", """
            let tag = plain
            step a
              out a.txt
              run echo '{tag}' > {out}
            """)
        let empty = try FlowBinary.run(["report", "-o", "r.html"], in: dir.path)
        #expect(empty.status == 0, "\(empty)")
        #expect(empty.stdout.contains("no run yet: graph)"), "\(empty)")
        _ = try FlowBinary.run(["run", "--set", "tag=<b>&"], in: dir.path)
        let r = try FlowBinary.run(["report", "-o", "r.html"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        let html = try dir.read("r.html")
        #expect(html.contains("tag=&lt;b&gt;&amp;"), "variables escaped")
        #expect(!html.contains("<b>&"))
        #expect(html.contains("class=\"node fresh\""), "the report used the run's variables, so a is fresh")
        let missing = try FlowBinary.run(["report", "--run", "9", "-o", "x.html"], in: dir.path)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no run 9 in this workspace (flow runs lists them)"), "\(missing)")
        let unwritable = try FlowBinary.run(["report", "-o", "no/such/dir/r.html"], in: dir.path)
        #expect(unwritable.status == 1)
        #expect(unwritable.stderr.contains("cannot write no/such/dir/r.html"), "\(unwritable)")
    }
}
