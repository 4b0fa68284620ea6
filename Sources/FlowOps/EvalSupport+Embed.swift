// Labelled features from shards: each sample's image through the backbone, its .cls as label.
import Foundation
import FlowFormats
import FlowModels
import FlowNumerics

/// Embeds labelled shards the way `flow op embed` does (square crop or stretch, antialiased
/// bicubic resize, ImageNet normalisation, final-normed class token, optionally followed by
/// the patch-token mean), and takes every sample's label from its `.cls` entry. Without a model
/// (`vit` nil) the features are the pixels themselves: RGB in [0, 1] after the same crop and
/// resize, flattened channel by channel, the baseline a model's features must beat.
struct LabelledEmbedder {
    var vit: ViT?
    var side: Int
    var batch: Int
    /// cls or cls+mean (pixels without a model).
    var pool: String
    /// center-crop or stretch.
    var resize: ResizeMode
    var threads: Int
    /// > 0: instead of `pool`, the class tokens of the last n blocks (each final-normed, oldest
    /// first) and the last block's patch-token mean, (n + 1)·dim wide (DINOv2 linear.py).
    var lastBlocks = 0
    /// > 0: each image of the split given to `embed(augmented:)` gives this many training
    /// views, RandomResizedCrop(side, scale 0.08–1) and a horizontal flip with probability ½
    /// (DINOv2's linear-eval train transform), drawn from `seed` and the sample's position.
    var views = 0
    var seed: UInt64 = 0

    var width: Int {
        guard let vit else { return 3 * side * side }
        if lastBlocks > 0 { return (min(lastBlocks, vit.config.depth) + 1) * vit.config.dim }
        return pool == "cls" ? vit.config.dim : 2 * vit.config.dim
    }

    /// Features [N, width] and labels of every sample of `shards`, in shard order.
    /// `split` (train or val) names the input in messages.
    func embed(shards: String, split: String, augmented: Bool = false) throws -> LabelledFeatures {
        let paths: [String]
        do { paths = try Shards.expand(shards) } catch { throw OpError("--\(split) \(shards): \(error)") }
        guard !paths.isEmpty else { throw OpError("--\(split) \(shards): no shards found (expected .tar or .tar.lz4 files)") }
        let decoder = try ImageDecoder()
        var rows: [Float] = [], labels: [Int] = []
        var pending: [Float] = []
        var pendingCount = 0
        func flush() throws {
            guard pendingCount > 0 else { return }
            guard let vit else {
                rows += pending
                pending.removeAll(keepingCapacity: true)
                pendingCount = 0
                return
            }
            let output = try vit.forward(images: pending, batch: pendingCount, height: side, width: side, threads: threads,
                                         lastBlocks: lastBlocks)
            if let blocks = output.intermediateClassTokens {
                let d = vit.config.dim, mean = output.patchTokenMean
                for b in 0..<pendingCount {
                    for cls in blocks { rows += cls[(b * d)..<((b + 1) * d)] }
                    rows += mean[(b * d)..<((b + 1) * d)]
                }
            } else {
                rows += pool == "cls" ? output.classTokens
                    : EmbedOp.interleave(output.classTokens, output.patchTokenMean, dim: vit.config.dim)
            }
            pending.removeAll(keepingCapacity: true)
            pendingCount = 0
            Progress.shared.report("embed \(split) \(labels.count) images")
        }
        for path in paths {
            let reader: ShardReader
            do { reader = try ShardReader(path: path) } catch { throw OpError("\(path): cannot open the shard: \(error)") }
            while true {
                let next: Sample?
                do { next = try reader.next() } catch { throw OpError("\(path): cannot read the next sample: \(error)") }
                guard let sample = next else { break }
                labels.append(try Self.label(sample, shard: path))
                guard let ext = EmbedOp.imageExtension(sample) else {
                    throw OpError("\(path): sample '\(sample.key)' has no jpg, jpeg or png entry (entries: \(sample.sortedExtensions.joined(separator: ", "))); evaluation needs one image per sample")
                }
                var image: ImageTensor
                do {
                    image = try decoder.decode(sample.entries[ext] ?? [], hint: ext, channels: 3)
                } catch let e as ImageError {
                    throw OpError("\(e.in(key: sample.key, shard: path))")
                } catch {
                    throw OpError("\(path): sample '\(sample.key)': cannot decode its .\(ext) entry: \(error)")
                }
                if augmented && views > 0 {
                    let index = labels.count - 1
                    for v in 0..<views {
                        var rng = AugmentRNG(seed: seed, index: UInt64(index * views + v))
                        var crop = Augment.randomResizedCrop(image, size: side, scale: 0.08...1, rng: &rng)
                        if rng.bernoulli(0.5) { Augment.horizontalFlip(&crop) }
                        ImageNetNormalization.apply(&crop)
                        if v > 0 { labels.append(labels[index]) }
                        pending += crop.data
                        pendingCount += 1
                        if pendingCount == batch { try flush() }
                    }
                    continue
                }
                pending += vit == nil ? EmbedOp.resized(image, side: side, resize: resize).data
                    : EmbedOp.prepare(image, side: side, resize: resize).data
                pendingCount += 1
                if pendingCount == batch { try flush() }
            }
        }
        try flush()
        guard !labels.isEmpty else { throw OpError("--\(split) \(shards): the shards hold no samples") }
        return LabelledFeatures(features: try Matrix(rows: labels.count, cols: width, data: rows), labels: labels,
                                source: shards)
    }

    /// The sample's class index from its `.cls` entry, or an error naming the shard and key.
    static func label(_ sample: Sample, shard: String) throws -> Int {
        guard let bytes = sample.entries["cls"] else {
            throw OpError("\(shard): sample '\(sample.key)' has no .cls entry (entries: \(sample.sortedExtensions.joined(separator: ", "))); evaluation needs a class label for every sample: add KEY.cls holding the class index, e.g. 3")
        }
        guard let c = sample.classIndex, c >= 0 else {
            let text = String(decoding: bytes.prefix(40), as: UTF8.self)
            throw OpError("\(shard): sample '\(sample.key)': its .cls entry '\(text)' is not a class index (a non-negative integer such as 3)")
        }
        return c
    }
}
