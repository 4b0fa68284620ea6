// The images of a training run: every image of the shards, decoded once, in shard order.
import Foundation
import FlowFormats

/// The training images of `--data`, decoded to RGB in [0, 1] and held in memory, in shard order
/// (shards sorted by name, samples in file order). Labels are not read.
///
/// The epoch order (a seeded permutation of these indices) is drawn by the `Trainer` and saved
/// in its checkpoints, so a resumed run sees the same batches. Holding the decoded images is
/// meant for CPU-sized runs (10,000 images of 32 px take 120 MB).
struct TrainingData {
    var images: [ImageTensor]
    var keys: [String]

    var count: Int { images.count }

    /// Reads every sample of `spec` (a shard, a directory of shards or a glob), as `embed` does.
    /// - Throws: `OpError` naming the shard and sample for a missing or undecodable image, and
    ///   when there are no images at all.
    static func load(_ spec: String, option: String = "--data") throws -> TrainingData {
        let paths: [String]
        do { paths = try Shards.expand(spec) } catch { throw OpError("\(option) \(spec): \(error)") }
        let decoder = try ImageDecoder()
        var data = TrainingData(images: [], keys: [])
        for path in paths {
            let reader: ShardReader
            do { reader = try ShardReader(path: path) } catch { throw OpError("\(path): cannot open the shard: \(error)") }
            while true {
                let next: Sample?
                do { next = try reader.next() } catch { throw OpError("\(path): cannot read the next sample: \(error)") }
                guard let sample = next else { break }
                guard let ext = EmbedOp.imageExtension(sample) else {
                    throw OpError("\(path): sample '\(sample.key)' has no jpg, jpeg or png entry (entries: \(sample.sortedExtensions.joined(separator: ", "))); training needs one image per sample")
                }
                do {
                    data.images.append(try decoder.decode(sample.entries[ext] ?? [], hint: ext, channels: 3))
                } catch let e as ImageError {
                    throw OpError("\(e.in(key: sample.key, shard: path))")
                }
                data.keys.append(sample.key)
            }
        }
        guard !data.images.isEmpty else {
            throw OpError("\(option) \(spec): no images in \(paths.count) shard(s): training needs at least one batch of images")
        }
        return data
    }
}
