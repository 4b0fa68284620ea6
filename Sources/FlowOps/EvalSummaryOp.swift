// flow op eval-summary: the k-NN and linear-probe results of several models as one table.
import ArgumentParser
import Foundation

/// `flow op eval-summary`: reads the JSON written by `eval-knn` and `eval-linear` for each
/// model and writes one Markdown table (and the same numbers as JSON), the last step of
/// workflows/pretrain.dag.
struct EvalSummaryOp: FlowOp {
    static let configuration = CommandConfiguration(
        commandName: "eval-summary",
        abstract: "Tabulate eval-knn and eval-linear results of several models (Markdown and JSON).",
        discussion: """
            Each --row NAME=KNN.json,LINEAR.json adds a line: the model's architecture (dim, \
            depth, heads), k-NN top-1 for each k, and the linear probe's val top-1 and chosen \
            learning rate. Every row must have been evaluated on the same train and val shards \
            with the same k values; a row that differs stops the op, naming the file.
            """)
    static let version = 1

    @Option(help: "A model's results: NAME=KNN.json,LINEAR.json (repeatable, in table order).")
    var row: [String] = []

    @Option(help: "Output Markdown table.")
    var out: String

    @Option(help: "Also write the table as JSON here.")
    var json: String?

    func validate() throws {
        guard !row.isEmpty else { throw ValidationError("give at least one --row NAME=KNN.json,LINEAR.json") }
        for r in row where Self.parse(r) == nil {
            throw ValidationError("--row '\(r)' must be NAME=KNN.json,LINEAR.json")
        }
    }

    static func parse(_ text: String) -> (name: String, knn: String, linear: String)? {
        guard let eq = text.firstIndex(of: "=") else { return nil }
        let files = text[text.index(after: eq)...].split(separator: ",", omittingEmptySubsequences: false)
        guard files.count == 2, !files[0].isEmpty, !files[1].isEmpty, eq != text.startIndex else { return nil }
        return (String(text[..<eq]), String(files[0]), String(files[1]))
    }

    /// One row of the table.
    struct Row {
        var name: String, model: String, arch: String
        var knnTop1: [Int: Double]
        var linearTop1: Double, chosenLR: Double
        var shards: String
    }

    func run() throws {
        let rows = try row.compactMap(Self.parse).map(readRow)
        let ks = rows[0].knnTop1.keys.sorted()
        for r in rows.dropFirst() {
            guard r.knnTop1.keys.sorted() == ks else {
                throw OpError("row '\(r.name)': k-NN results for k = \(r.knnTop1.keys.sorted()), not \(ks) as for '\(rows[0].name)'; evaluate every model with the same --k")
            }
            guard r.shards == rows[0].shards else {
                throw OpError("row '\(r.name)': evaluated on \(r.shards), not \(rows[0].shards) as '\(rows[0].name)'; the numbers would not compare")
            }
        }
        var lines = ["| model | backbone | " + ks.map { "k-NN top-1 (k=\($0))" }.joined(separator: " | ") + " | linear top-1 | linear lr |",
                     "|---|---|" + String(repeating: "---|", count: ks.count) + "---|---|"]
        for r in rows {
            let knn = ks.map { String(format: "%.3f", r.knnTop1[$0] ?? .nan) }.joined(separator: " | ")
            lines.append("| \(r.name) | \(r.arch) | \(knn) | " + String(format: "%.3f | %g |", r.linearTop1, r.chosenLR))
        }
        lines.append("")
        lines.append("Evaluated on \(rows[0].shards).")
        let table = lines.joined(separator: "\n") + "\n"
        do { try table.write(toFile: out, atomically: true, encoding: .utf8) } catch {
            throw OpError("\(out): cannot write: \(error.localizedDescription)")
        }
        if let json {
            let object: [String: Any] = ["evaluated_on": rows[0].shards, "rows": rows.map { r -> [String: Any] in
                ["name": r.name, "model": r.model, "backbone": r.arch, "linear_top1": r.linearTop1, "linear_lr": r.chosenLR,
                 "knn_top1": Dictionary(uniqueKeysWithValues: r.knnTop1.map { (String($0.key), $0.value) })]
            }]
            try CurationIO.writeJSON(object, to: json)
        }
        print(table, terminator: "")
    }

    private func readRow(_ spec: (name: String, knn: String, linear: String)) throws -> Row {
        let knn = try Self.object(spec.knn), linear = try Self.object(spec.linear)
        guard knn["eval"] as? String == "knn", let results = knn["results"] as? [[String: Any]] else {
            throw OpError("\(spec.knn): not an eval-knn result (no \"eval\": \"knn\" and \"results\")")
        }
        guard let top1 = linear["val_top1"] as? Double, let lr = linear["chosen_lr"] as? Double else {
            throw OpError("\(spec.linear): not an eval-linear result (no \"val_top1\" and \"chosen_lr\")")
        }
        var byK: [Int: Double] = [:]
        for r in results {
            guard let k = r["k_requested"] as? Int ?? r["k"] as? Int, let t = r["top1"] as? Double else {
                throw OpError("\(spec.knn): a result without k and top1")
            }
            byK[k] = t
        }
        let model = knn["model"] as? String ?? "?"
        guard linear["model"] as? String == model else {
            throw OpError("\(spec.linear): evaluates \(linear["model"] as? String ?? "?"), but \(spec.knn) evaluates \(model)")
        }
        let a = knn["architecture"] as? [String: Any] ?? [:]
        let arch = model == "pixels" ? "RGB, \(knn["feature_dim"] as? Int ?? 0) values"
            : "\(a["arch"] as? String ?? "?") \(a["dim"] as? String ?? "?")d×\(a["depth"] as? String ?? "?")"
        let shards = "train \(knn["train_shards"] as? String ?? "?") (\(knn["train_count"] as? Int ?? 0) images), "
            + "val \(knn["val_shards"] as? String ?? "?") (\(knn["val_count"] as? Int ?? 0) images)"
        return Row(name: spec.name, model: model, arch: arch, knnTop1: byK, linearTop1: top1, chosenLR: lr, shards: shards)
    }

    private static func object(_ path: String) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw OpError("\(path): cannot read the results; run the evaluation first")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw OpError("\(path): not a JSON object")
        }
        return object
    }
}
