// flow op eval-knn: DINOv2's weighted k-NN evaluation of a backbone on labelled shards.
import ArgumentParser
import Foundation
import FlowNumerics

/// `flow op eval-knn`: embed train and val with a model (class token), classify every val
/// sample by temperature-softmax weighted voting of its nearest train samples, and write
/// top-1 (and top-5) accuracy per k to a metrics JSON.
struct EvalKNNOp: FlowOp {
    static let configuration = CommandConfiguration(
        commandName: "eval-knn",
        abstract: "k-NN evaluation: weighted voting of cosine nearest neighbours (DINOv2 knn.py); accuracy to JSON.",
        discussion: """
        Embeds every sample of --train and --val with --model (final-normed class token, as \
        `flow op embed --pool cls`; images are centre-cropped to a square and resized to \
        --image-size) and takes its label from its .cls entry. Features are L2-normalised. For \
        each val sample, the max(--k) most similar train samples (exact, cosine, through sgemm; \
        fewer when train is smaller) get weights softmax(similarity / --temperature); for each \
        k, class score = sum of the first k weights on each neighbour's class, and the \
        prediction is the class of highest score (ties: lower class index). Reports top-1 \
        accuracy per k, and top-5 when there are more than 5 classes. Instead of a model and \
        shards, precomputed features can be given with --train-emb/--train-labels/--val-emb/\
        --val-labels. Deterministic for a given thread count. See docs/evaluation.md.
        """)
    /// 2: cosine scores from shifted distances (rankings change on offset data).
    static let version = 2

    @OptionGroup var input: EvalInputOptions

    @Option(name: .customLong("k"), help: "Neighbour counts to report, comma-separated (DINOv2: 10,20,100,200; 20 usually works best).")
    var k: String = "10,20,100,200"

    @Option(help: "Features: cls (the final-normed class token, DINOv2's k-NN) or cls+mean (followed by the mean of the patch tokens, as `flow op embed --pool cls+mean`).")
    var pool: String = "cls"

    @Option(help: "Softmax temperature of the neighbour weights (DINOv2: 0.07).")
    var temperature: Double = 0.07

    @Option(help: "Output metrics JSON (accuracy per k, settings, counts).")
    var out: String

    func validate() throws {
        guard pool == "cls" || pool == "cls+mean" else { throw ValidationError("--pool must be cls or cls+mean, not '\(pool)'") }
        guard temperature > 0, temperature.isFinite else {
            throw ValidationError("--temperature must be positive (got \(temperature))")
        }
        let ks = try? CurationIO.intList(k, "k")
        guard let ks, !ks.isEmpty, ks.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--k must list positive integers such as 10,20,100 (got '\(k)')")
        }
    }

    func run() throws {
        let start = Date()
        let threads = CurationIO.configureThreads(input.threads)
        let ks = try CurationIO.intList(k, "k")
        let data = try EvalInputs.load(input, pool: pool, threads: threads)
        try data.checkDimensions()
        Numerics.setThreads(threads)
        let result: KNNEvaluation
        do {
            result = try KNNClassifier.evaluate(train: data.train.features, trainLabels: data.train.labels,
                                                queries: data.val.features, queryLabels: data.val.labels,
                                                ks: ks, temperature: Float(temperature))
        } catch let e as NumericsError {
            throw OpError("\(data.train.source) / \(data.val.source): \(e.message)")
        }
        var metrics = data.common(threads: threads)
        metrics["eval"] = "knn"
        metrics["temperature"] = temperature
        metrics["neighbors"] = result.neighbors
        metrics["ks"] = ks
        metrics["results"] = result.accuracies.enumerated().map { i, a -> [String: Any] in
            var r: [String: Any] = ["k": a.k, "k_requested": ks[i], "top1": a.top1, "correct_top1": a.correctTop1,
                                    "total": a.total]
            if let t5 = a.top5, let c5 = a.correctTop5 { r["top5"] = t5; r["correct_top5"] = c5 }
            return r
        }
        try CurationIO.writeJSON(metrics, to: out)
        let summary = result.accuracies.map { String(format: "k=%d top-1 %.4f", $0.k, $0.top1) }.joined(separator: ", ")
        print("eval-knn: \(data.train.features.rows) train, \(data.val.features.rows) val, \(result.classes) classes: \(summary) (\(CurationIO.elapsed(start)))")
    }
}
