import Foundation
import FlowTestSupport
import Testing

/// workflows/ci.dag (the steps of workflows/pretrain.dag at toy size) run end to end by the
/// built `flow`, in a temporary workspace holding a copy of workflows/: what runs the first
/// time, the second time, after a k-means knob changes and after the pool grows by a shard.
@Suite(.serialized) struct PipelineTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// ci.dag's pool shard count.
    static let shards = 3

    /// A workspace with the repository's workflows/ copied in.
    func workspace() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory("flow-pipeline")
        try FileManager.default.copyItem(at: Self.repository.appendingPathComponent("workflows"), to: dir.url("workflows"))
        return dir
    }

    /// Runs `flow run workflows/ci.dag ARGS` and returns the names of the steps that ran.
    func ran(_ dir: TemporaryDirectory, _ args: [String] = []) throws -> Set<String> {
        let r = try FlowBinary.run(["run", "workflows/ci.dag"] + args, in: dir.path)
        #expect(r.status == 0, "\(r)")
        // Plain progress lines: `[7/24] ran embed-pool[1] (0.8s)`, perhaps after a timestamp.
        let names = r.stdout.split(separator: "\n").compactMap { line -> String? in
            guard let at = line.range(of: "] ran ") else { return nil }
            return String(line[at.upperBound...].split(separator: " ").first ?? "")
        }
        return Set(names)
    }

    static func fanOut(_ name: String, _ range: Range<Int>) -> Set<String> { Set(range.map { "\(name)[\($0)]" }) }

    /// Everything downstream of the curated shards: training, distillation, their evaluations.
    static let training: Set<String> = [
        "pretrain", "distill", "knn-teacher", "knn-student", "linear-teacher", "linear-student", "summary",
    ]
    static let curation: Set<String> = ["dedup", "kept-embeddings", "kmeans", "sample", "curated-index", "curated"]

    @Test func fullRunThenNothingThenOnlyWhatAKnobOrANewShardTouches() throws {
        let dir = try workspace()
        let all = Self.fanOut("pool", 0..<Self.shards).union(Self.fanOut("embed-pool", 0..<Self.shards))
            .union(["eval-set", "seed-model", "pool-embeddings", "embed-eval", "knn-init", "linear-init",
                    "knn-pixels", "linear-pixels"])
            .union(Self.curation).union(Self.training)
        #expect(try ran(dir) == all)

        // Curation did its job: the evaluation set (copies of the pool's first images) is gone
        // from the pool, and the curated shards hold the sampled images.
        let dedup = try dir.read("runs/ci/curation/dedup.json")
        #expect(dedup.contains("\"removed_near_reference\" : 40"), "\(dedup)")
        #expect(dir.exists("runs/ci/curated/curated-000000.tar"))
        for name in ["knn", "linear"] {
            for model in ["pixels", "init", "teacher", "student"] {
                let report = try dir.read("runs/ci/reports/\(name)-\(model).json")
                #expect(report.contains("top1"), "\(name)-\(model): \(report)")
            }
        }
        // The summary table holds each model's numbers from those reports.
        let table = try dir.read("runs/ci/summary.md")
        for (row, model) in [("raw-pixels", "pixels"), ("random-init", "init"), ("teacher", "teacher"), ("student", "student")] {
            let knn = try JSONSerialization.jsonObject(with: dir.readData("runs/ci/reports/knn-\(model).json")) as? [String: Any]
            let linear = try JSONSerialization.jsonObject(with: dir.readData("runs/ci/reports/linear-\(model).json")) as? [String: Any]
            let top1 = ((knn?["results"] as? [[String: Any]]) ?? []).compactMap { $0["top1"] as? Double }
            let cells = (top1 + [linear?["val_top1"] as? Double ?? -1]).map { String(format: "%.3f", $0) }.joined(separator: " | ")
            #expect(top1.count == 2 && table.contains("| \(row) | ") && table.contains(" | \(cells) | "), "\(row): \(cells)\n\(table)")
        }

        // The report of that run has every section, the training and curation ones included.
        let report = try FlowBinary.run(["report", "workflows/ci.dag", "--out", "report.html"], in: dir.path)
        #expect(report.status == 0, "\(report)")
        let html = try dir.read("report.html")
        for id in ["graph", "timeline", "steps", "loss", "clusters", "accuracy"] {
            #expect(html.contains("<section id=\"\(id)\">"), "the report of ci.dag has no \(id) section")
        }
        #expect(!html.lowercased().contains("http"))

        // The second run is a no-op.
        #expect(try ran(dir) == [])
        let status = try FlowBinary.run(["status", "workflows/ci.dag", "--check"], in: dir.path)
        #expect(status.status == 0, "\(status)")

        // The k-means knob: k-means and what follows it, nothing before.
        #expect(try ran(dir, ["--set", "clusters=4,2"]) == Self.curation.subtracting(["dedup", "kept-embeddings"]).union(Self.training))

        // One more pool shard: that shard is generated and embedded, nothing else before the join.
        let grown = try ran(dir, ["--set", "shards=\(Self.shards + 1)"])
        #expect(grown == Set(["pool[\(Self.shards)]", "embed-pool[\(Self.shards)]", "pool-embeddings"]).union(Self.curation).union(Self.training))
        #expect(try dir.read("runs/ci/emb/pool.keys.txt").split(separator: "\n").count == 40 * (Self.shards + 1))

        // The trained backbones load in the ops that take a --model: the student embeds at its width.
        let embed = try FlowBinary.run(["op", "embed", "--model", "runs/ci/models/student.safetensors",
                                        "--shards", "runs/ci/eval/eval-000001.tar", "--out", "student.npy"], in: dir.path)
        #expect(embed.status == 0, "\(embed)")
        let header = String(decoding: try dir.readData("student.npy").prefix(128), as: UTF8.self)
        #expect(header.contains("'shape': (20, 16)"), "\(header)")
    }

    /// pretrain.dag (the `make run` size) loads, and a dry run lists every step, so an error in
    /// it shows up here and not only after minutes of `make run`.
    @Test func pretrainDagLoadsAndPlansEveryStep() throws {
        let dir = try workspace()
        let r = try FlowBinary.run(["run", "-n", "workflows/pretrain.dag"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        for step in ["pool[0]", "embed-pool[0]", "pool-embeddings", "dedup", "kmeans", "curated", "pretrain", "distill",
                     "knn-student", "linear-teacher", "summary"] {
            #expect(r.stdout.contains("would run \(step): "), "\(step): \(r)")
        }
    }
}
