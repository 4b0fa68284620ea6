import Foundation
import FlowTestSupport
import Testing

/// `flow op eval-summary` on hand-written eval-knn / eval-linear results.
@Suite struct EvalSummaryTests {
    static func knn(model: String, ks: [Int], top1: [Double], val: String = "val.tar") -> String {
        let results = zip(ks, top1).map { "{\"k\": \($0), \"k_requested\": \($0), \"top1\": \($1)}" }.joined(separator: ", ")
        return """
            {"eval": "knn", "model": "\(model)", "architecture": {"arch": "vit-test", "dim": "32", "depth": "2"},
             "train_shards": "train.tar", "train_count": 20, "val_shards": "\(val)", "val_count": 10, "results": [\(results)]}
            """
    }

    static func linear(model: String, top1: Double) -> String {
        "{\"model\": \"\(model)\", \"val_top1\": \(top1), \"chosen_lr\": 0.005}"
    }

    func workspace() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory("eval-summary")
        try dir.write("a-knn.json", Self.knn(model: "a.safetensors", ks: [10, 20], top1: [0.25, 0.3]))
        try dir.write("a-lin.json", Self.linear(model: "a.safetensors", top1: 0.4))
        try dir.write("b-knn.json", Self.knn(model: "b.safetensors", ks: [10, 20], top1: [0.5, 0.625]))
        try dir.write("b-lin.json", Self.linear(model: "b.safetensors", top1: 0.7))
        return dir
    }

    @Test func tableHasOneRowPerModelInOrder() throws {
        let dir = try workspace()
        let r = try FlowBinary.run(["op", "eval-summary", "--row", "init=a-knn.json,a-lin.json", "--row", "trained=b-knn.json,b-lin.json",
                                    "--out", "t.md", "--json", "t.json"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        let lines = try dir.read("t.md").split(separator: "\n").map(String.init)
        #expect(lines[0] == "| model | backbone | k-NN top-1 (k=10) | k-NN top-1 (k=20) | linear top-1 | linear lr |")
        #expect(lines[2] == "| init | vit-test 32d×2 | 0.250 | 0.300 | 0.400 | 0.005 |")
        #expect(lines[3] == "| trained | vit-test 32d×2 | 0.500 | 0.625 | 0.700 | 0.005 |")
        #expect(lines.last == "Evaluated on train train.tar (20 images), val val.tar (10 images).")
        #expect(try dir.read("t.json").contains("\"linear_top1\" : 0.7"))
    }

    @Test func rowsThatDoNotCompareAreRefused() throws {
        let dir = try workspace()
        try dir.write("c-knn.json", Self.knn(model: "b.safetensors", ks: [10], top1: [0.5]))
        try dir.write("d-knn.json", Self.knn(model: "b.safetensors", ks: [10, 20], top1: [0.5, 0.6], val: "other.tar"))
        for (row, message) in [
            ("c=c-knn.json,b-lin.json", "row 'c': k-NN results for k = [10], not [10, 20]"),
            ("d=d-knn.json,b-lin.json", "row 'd': evaluated on train train.tar (20 images), val other.tar"),
            ("e=a-knn.json,b-lin.json", "b-lin.json: evaluates b.safetensors, but a-knn.json evaluates a.safetensors"),
            ("f=missing.json,b-lin.json", "missing.json: cannot read the results"),
            ("g=a-lin.json,a-lin.json", "a-lin.json: not an eval-knn result"),
        ] {
            let r = try FlowBinary.run(["op", "eval-summary", "--row", "init=a-knn.json,a-lin.json", "--row", row, "--out", "t.md"],
                                       in: dir.path)
            #expect(r.status != 0 && r.stderr.contains(message), "\(row): \(r)")
            #expect(!dir.exists("t.md"))
        }
        let bad = try FlowBinary.run(["op", "eval-summary", "--row", "x=only-one.json", "--out", "t.md"], in: dir.path)
        #expect(bad.status != 0 && bad.stderr.contains("must be NAME=KNN.json,LINEAR.json"), "\(bad)")
    }
}
