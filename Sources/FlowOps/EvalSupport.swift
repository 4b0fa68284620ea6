// Shared plumbing of eval-knn and eval-linear: the input options, labelled features from a
// model + shards (or precomputed .npy files), and the common part of the metrics JSON.
import ArgumentParser
import Foundation
import FlowFormats
import FlowModels
import FlowNumerics

/// Where the labelled train and val features come from: a model run on shards (the main path),
/// or precomputed embeddings with label arrays.
struct EvalInputOptions: ParsableArguments {
    @Option(help: "Model checkpoint (.safetensors from init-vit, training, or a converted DINOv2 backbone).")
    var model: String?

    @Flag(help: "Instead of --model: the images' own pixels as features (RGB in [0, 1] after the square crop and the resize to --image-size, flattened), the baseline a model's features must beat.")
    var pixels = false

    @Option(help: "Train shards: a .tar/.tar.lz4 file, a directory of them, or a glob. Every sample needs an image and a .cls entry (integer class index).")
    var train: String?

    @Option(help: "Validation shards (same form as --train).")
    var val: String?

    @Option(name: .customLong("train-emb"), help: "Instead of --model/--train: precomputed train features, a 2-D float32 .npy [N, D].")
    var trainEmb: String?

    @Option(name: .customLong("train-labels"), help: "With --train-emb: train class indices, a 1-D integer .npy [N].")
    var trainLabels: String?

    @Option(name: .customLong("val-emb"), help: "With --train-emb: precomputed val features [M, D].")
    var valEmb: String?

    @Option(name: .customLong("val-labels"), help: "With --val-emb: val class indices [M].")
    var valLabels: String?

    @Option(name: .customLong("image-size"),
            help: "Side of the square model input in pixels, a multiple of the patch size (default: the model's image size).")
    var imageSize: Int?

    @Option(help: "Images per forward pass.")
    var batch: Int = 16

    @Option(help: "How to make each image square before resizing: center-crop (largest centred square) or stretch.")
    var resize: ResizeMode = .centerCrop

    @Option(help: "Threads for the forward pass, BLAS and the numeric loops (default: the step's cpus, FLOW_CPUS, else 1).")
    var threads: Int?

    var usesModel: Bool { model != nil || pixels || train != nil || val != nil }

    func validate() throws {
        let precomputed = [trainEmb, trainLabels, valEmb, valLabels]
        if usesModel {
            guard model != nil || pixels, train != nil, val != nil else {
                throw ValidationError("give --model, --train and --val together (or --train-emb, --train-labels, --val-emb, --val-labels)")
            }
            guard model == nil || !pixels else {
                throw ValidationError("give either --model or --pixels, not both")
            }
            guard !pixels || imageSize != nil else {
                throw ValidationError("--pixels needs --image-size (the side the images are resized to)")
            }
            guard precomputed.allSatisfy({ $0 == nil }) else {
                throw ValidationError("give either --model/--train/--val or the precomputed --train-emb ... options, not both")
            }
        } else {
            guard precomputed.allSatisfy({ $0 != nil }) else {
                throw ValidationError("give --model M --train SHARDS --val SHARDS, or all of --train-emb, --train-labels, --val-emb, --val-labels")
            }
        }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1 (got \(batch))") }
        if let imageSize, imageSize <= 0 { throw ValidationError("--image-size must be positive (got \(imageSize))") }
    }
}

/// Labelled features of one split.
struct LabelledFeatures {
    var features: Matrix
    var labels: [Int]
    /// The shards pattern or the .npy path they came from.
    var source: String
}

/// Train and val features plus what the metrics JSON says about where they came from.
struct EvalInputs {
    var train: LabelledFeatures
    var val: LabelledFeatures
    /// "model", "architecture", "image_size", ... or "train_emb", ... for the JSON.
    var description: [String: Any]

    /// Loads the model and embeds both splits, or reads the precomputed arrays.
    /// `pool` is cls or cls+mean (see `flow op embed`).
    ///
    /// `lastBlocks` and `views` are those of `LabelledEmbedder` (0: off); views apply to train.
    static func load(_ o: EvalInputOptions, pool: String, threads: Int, lastBlocks: Int = 0, views: Int = 0,
                     seed: UInt64 = 0) throws -> EvalInputs {
        if o.pixels, let trainPath = o.train, let valPath = o.val, let side = o.imageSize {
            let embedder = LabelledEmbedder(vit: nil, side: side, batch: o.batch, pool: "pixels", resize: o.resize,
                                            threads: threads)
            return EvalInputs(train: try embedder.embed(shards: trainPath, split: "train"),
                              val: try embedder.embed(shards: valPath, split: "val"),
                              description: ["model": "pixels", "train_shards": trainPath, "val_shards": valPath,
                                            "image_size": side, "resize": o.resize.rawValue, "pool": "pixels"])
        }
        guard let modelPath = o.model, let trainPath = o.train, let valPath = o.val else {
            let train = try precomputed(o.trainEmb ?? "", o.trainLabels ?? "", split: "train")
            let val = try precomputed(o.valEmb ?? "", o.valLabels ?? "", split: "val")
            return EvalInputs(train: train, val: val, description: [
                "train_emb": o.trainEmb ?? "", "train_labels": o.trainLabels ?? "",
                "val_emb": o.valEmb ?? "", "val_labels": o.valLabels ?? ""])
        }
        let vit: ViT
        do { vit = try ViT.load(path: modelPath) } catch let e as ModelError {
            throw OpError(e.message)
        } catch {
            throw OpError("\(modelPath): cannot load the model: \(error)")
        }
        let side = o.imageSize ?? vit.config.imageSize
        guard side % vit.config.patch == 0 else {
            throw OpError("--image-size \(side) is not a multiple of the model's patch size \(vit.config.patch) (\(modelPath)): use e.g. \(max(1, side / vit.config.patch) * vit.config.patch)")
        }
        let embedder = LabelledEmbedder(vit: vit, side: side, batch: o.batch, pool: pool, resize: o.resize, threads: threads,
                                        lastBlocks: lastBlocks, views: views, seed: seed)
        let train = try embedder.embed(shards: trainPath, split: "train", augmented: views > 0)
        let val = try embedder.embed(shards: valPath, split: "val")
        var arch: [String: Any] = [:]
        for (k, v) in vit.config.metadata { arch[k] = v }
        return EvalInputs(train: train, val: val, description: [
            "model": modelPath, "architecture": arch, "train_shards": trainPath, "val_shards": valPath,
            "image_size": side, "resize": o.resize.rawValue, "pool": pool])
    }

    /// A split from a float .npy [N, D] and an integer .npy [N].
    static func precomputed(_ emb: String, _ labels: String, split: String) throws -> LabelledFeatures {
        let x = try CurationIO.readMatrix(emb, what: "\(split) features")
        let y = try CurationIO.readIndices(labels, what: "\(split) labels")
        guard y.count == x.rows else {
            throw OpError("\(labels): \(y.count) \(split) labels but \(emb) has \(x.rows) rows; give one label per row")
        }
        if let i = y.firstIndex(where: { $0 < 0 }) {
            throw OpError("\(labels): label \(i) is \(y[i]); labels are class indices 0, 1, ...")
        }
        return LabelledFeatures(features: x, labels: y, source: emb)
    }

    /// Settings and counts common to both ops' metrics JSON.
    func common(threads: Int) -> [String: Any] {
        var out = description
        out["train_count"] = train.features.rows
        out["val_count"] = val.features.rows
        out["feature_dim"] = train.features.cols
        out["classes"] = max(train.labels.max() ?? 0, val.labels.max() ?? 0) + 1
        out["threads"] = threads
        return out
    }

    /// Checks that the two splits have the same feature width.
    func checkDimensions() throws {
        guard train.features.cols == val.features.cols else {
            throw OpError("\(val.source): val features have dimension \(val.features.cols) but train features (\(train.source)) have \(train.features.cols)")
        }
    }
}
