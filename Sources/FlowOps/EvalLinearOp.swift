// flow op eval-linear: DINOv2-style linear probe on frozen features, learning rate chosen on
// a held-out part of train, reported on val.
import ArgumentParser
import Foundation
import FlowNumerics

/// `flow op eval-linear`: embed train and val with a model, train one linear classifier per
/// learning rate on most of train, choose the best on the held-out rest, retrain it on all of
/// train, and write its val accuracy and the settings to a metrics JSON.
struct EvalLinearOp: FlowOp {
    static let configuration = CommandConfiguration(
        commandName: "eval-linear",
        abstract: "Linear-probe evaluation on frozen features (DINOv2 linear.py); lr chosen on held-out train; accuracy to JSON.",
        discussion: """
        Features: the final-normed class token (--pool cls), or the class token followed by the \
        mean of the patch tokens (--pool cls+mean), as `flow op embed`; labels from each \
        sample's .cls entry. Training: softmax cross-entropy, SGD with momentum 0.9, weight \
        decay 0, learning rate following a cosine from its peak to 0 over --iterations steps of \
        --batch-size rows, weights N(0, 0.01), bias 0. Each rate of --lrs is multiplied by \
        --batch-size / 256 (DINOv2's scaling). A seeded --holdout fraction of train is set \
        aside; one classifier per rate is trained on the rest and scored on it; the best (top-1, \
        then lower loss, then the earlier rate) is retrained on ALL of train and only that \
        classifier is scored on val. Precomputed features can be given instead with \
        --train-emb/--train-labels/--val-emb/--val-labels. Deterministic for a given --seed \
        and thread count. --protocol dinov2 runs the reference's protocol instead: features from \
        the last 1 or 4 blocks, with or without the patch-token average, every combination \
        trained on all of train and the best chosen on val; --augment-views N trains on N \
        random-resized-crop and flip views of every train image. See docs/evaluation.md.
        """)
    // 2: --protocol, --augment-views.
    static let version = 2

    @OptionGroup var input: EvalInputOptions

    @Option(help: "Features: cls (class token) or cls+mean (class token, then the patch-token mean; twice as wide).")
    var pool: String = "cls"

    @Option(help: "Learning-rate grid before scaling by batch-size/256, comma-separated (DINOv2's grid runs 1e-5 to 0.1).")
    var lrs: String = "0.001,0.002,0.005,0.01,0.02,0.05,0.1"

    @Option(help: "Fraction of train held out to choose the learning rate, in [0, 1); 0 only with a single rate.")
    var holdout: Double = 0.2

    @Option(help: "SGD steps per classifier (DINOv2: 12500).")
    var iterations: Int = 1000

    @Option(name: .customLong("batch-size"), help: "Rows per SGD step (DINOv2: 128 per GPU); also scales the rates.")
    var batchSize: Int = 128

    @Option(help: "Seed of the holdout split, the weight initialisation and the sampling order.")
    var seed: UInt64 = 0

    @Option(help: "flow (lr chosen on a train holdout, --pool features) or dinov2 (last 1 or 4 blocks, with or without the patch average, each with every rate, chosen on val as the reference).")
    var `protocol`: String = "flow"

    @Option(name: .customLong("augment-views"), help: "Train on this many RandomResizedCrop(0.08-1) + flip views of each train image instead of the plain image (DINOv2 augments its linear-eval training; 0 = none).")
    var augmentViews: Int = 0

    @Option(help: "Output metrics JSON (chosen lr, accuracies, the grid, settings, counts).")
    var out: String

    func validate() throws {
        guard pool == "cls" || pool == "cls+mean" else { throw ValidationError("--pool must be cls or cls+mean, not '\(pool)'") }
        guard `protocol` == "flow" || `protocol` == "dinov2" else {
            throw ValidationError("--protocol must be flow or dinov2, not '\(`protocol`)'")
        }
        guard augmentViews >= 0 else { throw ValidationError("--augment-views must be ≥ 0 (got \(augmentViews))") }
        if (`protocol` == "dinov2" || augmentViews > 0) && !input.usesModel {
            throw ValidationError("--protocol dinov2 and --augment-views embed the images themselves: give --model, --train and --val")
        }
        guard holdout >= 0 && holdout < 1 else { throw ValidationError("--holdout must be in [0, 1) (got \(holdout))") }
        guard iterations >= 1 else { throw ValidationError("--iterations must be at least 1 (got \(iterations))") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1 (got \(batchSize))") }
        let grid = try? Self.parseRates(lrs)
        guard let grid, !grid.isEmpty else {
            throw ValidationError("--lrs must list positive numbers such as 0.001,0.01,0.1 (got '\(lrs)')")
        }
        if grid.count > 1 && holdout == 0 && `protocol` == "flow" {
            throw ValidationError("--holdout 0 leaves nothing to choose among \(grid.count) learning rates: give a fraction such as 0.2, or a single rate")
        }
    }

    static func parseRates(_ text: String) throws -> [Float] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map { part in
            guard let v = Float(part.trimmingCharacters(in: .whitespaces)), v > 0, v.isFinite else {
                throw OpError("--lrs: '\(part)' is not a positive number")
            }
            return v
        }
    }

    func run() throws {
        if `protocol` == "dinov2" { return try runReference() }
        let start = Date()
        let threads = CurationIO.configureThreads(input.threads)
        let scale = Float(batchSize) / 256
        let grid = try Self.parseRates(lrs).map { $0 * scale }
        let data = try EvalInputs.load(input, pool: pool, threads: threads, views: augmentViews, seed: seed)
        try data.checkDimensions()
        Numerics.setThreads(threads)
        let settings = LinearProbeSettings(learningRate: grid[0], iterations: iterations, batchSize: batchSize, seed: seed)
        let r: LinearProbeResult
        do {
            r = try LinearProbe.evaluate(train: data.train.features, trainLabels: data.train.labels,
                                         val: data.val.features, valLabels: data.val.labels,
                                         learningRates: grid, holdout: holdout, settings: settings)
        } catch let e as NumericsError {
            throw OpError("\(data.train.source) / \(data.val.source): \(e.message)")
        }
        var metrics = data.common(threads: threads)
        metrics["eval"] = "linear"
        metrics["pool"] = input.usesModel ? pool : "precomputed"
        metrics["settings"] = ["iterations": iterations, "batch_size": batchSize, "momentum": 0.9, "weight_decay": 0,
                               "schedule": "cosine to 0", "init": "weights N(0, 0.01), bias 0", "seed": seed,
                               "holdout": holdout, "lr_scale": Double(scale), "lrs_unscaled": lrs,
                               "retrained_on_all_train": true, "augment_views": augmentViews] as [String: Any]
        metrics["fit_count"] = r.fitCount
        metrics["holdout_count"] = r.holdoutCount
        metrics["grid"] = r.trials.map { t -> [String: Any] in
            var g: [String: Any] = ["lr": Double(t.learningRate), "diverged": !t.finite]
            if let h = t.holdout { g["holdout_top1"] = h.top1; g["holdout_loss"] = h.meanLoss }
            return g
        }
        metrics["chosen_lr"] = Double(r.chosenLearningRate)
        metrics["train_top1"] = r.train.top1
        metrics["val_top1"] = r.val.top1
        metrics["val_correct_top1"] = r.val.correctTop1
        if let t5 = r.val.top5 { metrics["val_top5"] = t5 }
        metrics["val_loss"] = r.val.meanLoss
        try CurationIO.writeJSON(metrics, to: out)
        print(String(format: "eval-linear: %d train (%d held out), %d val, %d classes, dim %d: lr %g chosen, val top-1 %.4f (train %.4f)",
                     data.train.features.rows, r.holdoutCount, data.val.features.rows, r.classes, data.train.features.cols,
                     Double(r.chosenLearningRate), r.val.top1, r.train.top1) + " (\(CurationIO.elapsed(start)))")
    }

    /// The reference's protocol (dinov2/eval/linear.py): one embedding pass gives the class
    /// tokens of the last 4 blocks and the last block's patch-token average; every
    /// (blocks ∈ {1, 4}, average ∈ {no, yes}, rate) classifier is trained on all of train and
    /// scored on val, and the best on val is the result, as the reference reports it.
    func runReference() throws {
        let start = Date()
        let threads = CurationIO.configureThreads(input.threads)
        let scale = Float(batchSize) / 256
        let rates = try Self.parseRates(lrs).map { $0 * scale }
        let data = try EvalInputs.load(input, pool: pool, threads: threads, lastBlocks: 4, views: augmentViews, seed: seed)
        try data.checkDimensions()
        Numerics.setThreads(threads)
        let width = data.train.features.cols
        let dim = (data.description["architecture"] as? [String: Any]).flatMap { ($0["dim"] as? String).flatMap(Int.init) } ?? width / 5
        let blocks = width / dim - 1
        // Column ranges of [cls of the last `blocks` blocks…, patch average].
        let configs: [(blocks: Int, average: Bool)] = [(1, false), (1, true), (blocks, false), (blocks, true)]
        var trials: [[String: Any]] = []
        var best: (top1: Double, index: Int, score: LinearScore)? = nil
        for (ci, c) in configs.enumerated() where ci < 2 || blocks > 1 {
            var columns = Array(((blocks - c.blocks) * dim)..<(blocks * dim))
            if c.average { columns += Array((blocks * dim)..<((blocks + 1) * dim)) }
            let train = data.train.features.columns(columns), val = data.val.features.columns(columns)
            for lr in rates {
                let settings = LinearProbeSettings(learningRate: lr, iterations: iterations, batchSize: batchSize, seed: seed)
                let r: LinearProbeResult
                do {
                    r = try LinearProbe.evaluate(train: train, trainLabels: data.train.labels, val: val, valLabels: data.val.labels,
                                                 learningRates: [lr], holdout: 0, settings: settings)
                } catch let e as NumericsError {
                    throw OpError("\(data.train.source) / \(data.val.source): \(e.message)")
                }
                trials.append(["blocks": c.blocks, "average_pool": c.average, "feature_dim": columns.count, "lr": Double(lr),
                               "val_top1": r.val.top1, "val_correct_top1": r.val.correctTop1, "train_top1": r.train.top1])
                if best == nil || r.val.top1 > best!.top1 { best = (r.val.top1, trials.count - 1, r.val) }
            }
        }
        guard let best else { throw OpError("no classifier was trained") }
        var metrics = data.common(threads: threads)
        metrics["eval"] = "linear"
        metrics["protocol"] = "dinov2"
        metrics["settings"] = ["iterations": iterations, "batch_size": batchSize, "momentum": 0.9, "weight_decay": 0,
                               "schedule": "cosine to 0", "init": "weights N(0, 0.01), bias 0", "seed": seed,
                               "lr_scale": Double(scale), "lrs_unscaled": lrs, "chosen_on": "val",
                               "augment_views": augmentViews] as [String: Any]
        metrics["grid"] = trials
        metrics["chosen"] = trials[best.index]
        metrics["val_top1"] = best.score.top1
        metrics["val_correct_top1"] = best.score.correctTop1
        if let t5 = best.score.top5 { metrics["val_top5"] = t5 }
        try CurationIO.writeJSON(metrics, to: out)
        let chosen = trials[best.index]
        print(String(format: "eval-linear (dinov2 protocol): %d train rows, %d val, %d classifiers: best %d block(s)%@, lr %g, val top-1 %.4f",
                     data.train.features.rows, data.val.features.rows, trials.count, chosen["blocks"] as! Int,
                     (chosen["average_pool"] as! Bool) ? " + average" : "", chosen["lr"] as! Double, best.score.top1)
              + " (\(CurationIO.elapsed(start)))")
    }
}
