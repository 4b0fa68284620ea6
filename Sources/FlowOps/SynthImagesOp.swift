// flow op synth-images: a procedural labelled image set written as WebDataset shards.
import ArgumentParser
import Foundation
import FlowFormats

/// `flow op synth-images`: shapes and textures under random colour, position, scale,
/// rotation, background, clutter and noise, as PNG or JPEG samples in tar shards.
struct SynthImagesOp: FlowOp {
    static let configuration = CommandConfiguration(
        commandName: "synth-images",
        abstract: "Generate a labelled image set of shapes and textures, as WebDataset shards.",
        discussion: """
        The class of an image is its shape or texture (circle, square, triangle, ring, plus, \
        stripes, checkerboard, concentric rings, dot grid, flower, hexagon, square frame, waves, \
        half disc, ellipse, tee: the first --classes of these). Everything else is \
        random: colours, position, size, rotation, background gradient, clutter strokes and \
        pixel noise; so a nearest neighbour on raw pixels does poorly, while features that \
        capture shape do well. Image i has class i mod --classes.

        Writes DIR/PREFIX-000000.tar ... with samples KEY.png (or .jpg), KEY.cls (the class \
        index as decimal text) and KEY.json (the class name and every nuisance drawn), plus \
        DIR/classes.json. Each shard holds ceil(count / shards) samples (the last may hold \
        fewer, and a remainder can leave fewer shards than asked). Old PREFIX-NNNNNN.tar files \
        in DIR are removed first. The same arguments give the same bytes, whatever --threads.

        With --shard-index I and --per-shard M, only shard I of the set is written: \
        DIR/PREFIX-{I:06}.tar with images I*M to I*M+M-1, byte for byte shard I of the set \
        written with --count (N*M) --shards N for any N > I; no classes.json, and no other \
        file in DIR is touched. A pipeline can so generate each shard of a pool in its own \
        step, and growing the pool by a shard adds one step.
        """)
    static let version = 1

    @Option(help: "Number of images (default 1000; not with --shard-index).")
    var count: Int?

    @Option(help: "Number of classes, 1 to \(SynthShape.allCases.count).")
    var classes: Int = 10

    @Option(help: "Image side in pixels (square images), 8 to 4096.")
    var size: Int = 32

    @Option(help: "Seed: every image is drawn from (seed, index).")
    var seed: UInt64 = 0

    @Option(help: "Number of shards to split the images into (default 1; not with --shard-index).")
    var shards: Int?

    @Option(name: .customLong("shard-index"), help: "Write only this shard of the set (0-based; needs --per-shard).")
    var shardIndex: Int?

    @Option(name: .customLong("per-shard"), help: "Images per shard, with --shard-index.")
    var perShard: Int?

    @Option(help: "Output directory (created if missing).")
    var out: String

    @Option(help: "Image encoding: png (lossless) or jpg.")
    var format: ImageFileFormat = .png

    @Option(help: "JPEG quality, 1 to 100 (with --format jpg).")
    var quality: Int = 90

    @Option(help: "Shard file name prefix: PREFIX-000000.tar, ...")
    var prefix: String = "synth"

    @Option(help: "Threads for rendering and encoding (default: the step's cpus, FLOW_CPUS, else 1).")
    var threads: Int?

    /// The whole set's image count (without --shard-index).
    var total: Int { count ?? 1000 }

    func validate() throws {
        if let shardIndex {
            guard count == nil, shards == nil else {
                throw ValidationError("--shard-index writes one shard of --per-shard images: drop --count and --shards")
            }
            guard let perShard else { throw ValidationError("--shard-index needs --per-shard (images per shard)") }
            guard perShard >= 1 else { throw ValidationError("--per-shard must be at least 1 (got \(perShard))") }
            guard shardIndex >= 0 else { throw ValidationError("--shard-index must be 0 or more (got \(shardIndex))") }
        } else if perShard != nil {
            throw ValidationError("--per-shard goes with --shard-index; for a whole set use --count and --shards")
        }
        let count = total, shards = self.shards ?? 1
        guard count >= 1 else { throw ValidationError("--count must be at least 1 (got \(count))") }
        guard (1...SynthShape.allCases.count).contains(classes) else {
            throw ValidationError("--classes must be 1 to \(SynthShape.allCases.count) (got \(classes))")
        }
        guard (8...4096).contains(size) else { throw ValidationError("--size must be 8 to 4096 (got \(size))") }
        guard shards >= 1, shards <= count else {
            throw ValidationError("--shards must be 1 to --count (\(count)); got \(shards)")
        }
        guard (1...100).contains(quality) else { throw ValidationError("--quality must be 1 to 100 (got \(quality))") }
        guard !prefix.isEmpty, !prefix.contains("/") else { throw ValidationError("--prefix must be a file name without '/'") }
    }

    func run() throws {
        let start = Date()
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
            throw OpError("\(out): cannot create the output directory: \(error.localizedDescription)")
        }
        if let shardIndex, let perShard {
            let path = try writeOneShard(shardIndex, perShard: perShard)
            let seconds = Date().timeIntervalSince(start)
            print("synth-images: shard \(shardIndex), images \(shardIndex * perShard) to \(shardIndex * perShard + perShard - 1) "
                  + "of \(size)x\(size), \(classes) classes, in \(path) " + String(format: "(%.2f s)", seconds))
            return
        }
        try removeOldShards()
        let count = total
        let perShard = (count + (shards ?? 1) - 1) / (shards ?? 1)
        let writer = try ShardWriter(directory: out, prefix: prefix, maxSamples: perShard)
        try render(first: 0, count: count, into: writer)
        let paths = try writer.finish()
        try writeClasses(shardPaths: paths)
        let seconds = Date().timeIntervalSince(start)
        print("synth-images: \(count) images of \(size)x\(size), \(classes) classes, \(paths.count) shards in \(out) "
              + String(format: "(%.2f s)", seconds))
    }

    /// Renders images first..<first+count in batches and writes them in index order.
    private func render(first start: Int, count: Int, into writer: ShardWriter) throws {
        let generator = SynthImages(classes: classes, size: size, seed: seed)
        let nThreads = max(1, min(StepEnvironment.threads(threads), count))
        let batch = max(64, 16 * nThreads)
        var done = 0
        while done < count {
            let n = min(batch, count - done)
            let samples = try renderBatch(generator, first: start + done, count: n, threads: nThreads)
            for sample in samples { try writer.write(sample) }
            done += n
            Progress.shared.report("synth-images \(done)/\(count)")
        }
    }

    /// Writes shard `index` alone: rendered into a private directory inside `out`, then renamed
    /// to PREFIX-{index:06}.tar (ShardWriter numbers its shards from 0), so steps writing other
    /// shards of the same directory at the same time never see each other's files.
    private func writeOneShard(_ index: Int, perShard: Int) throws -> String {
        let fm = FileManager.default
        let name = prefix + "-" + String(format: "%06d", index) + ".tar"
        let final = out + "/" + name
        let scratch = out + "/.synth-\(name)-\(getpid())"
        defer { try? fm.removeItem(atPath: scratch) }
        do {
            try? fm.removeItem(atPath: scratch)
            try fm.createDirectory(atPath: scratch, withIntermediateDirectories: false)
        } catch {
            throw OpError("\(scratch): cannot create a scratch directory: \(error.localizedDescription)")
        }
        let writer = try ShardWriter(directory: scratch, prefix: prefix, maxSamples: perShard)
        try render(first: index * perShard, count: perShard, into: writer)
        guard let written = try writer.finish().first else {
            throw OpError("synth-images: shard \(index) was not written (internal error, please report)")
        }
        guard rename(written, final) == 0 else {
            throw OpError("\(final): cannot move the shard into place: \(String(cString: strerror(errno)))")
        }
        return final
    }

    /// Renders and encodes images first..<first+count, in parallel, in index order.
    private func renderBatch(_ generator: SynthImages, first: Int, count n: Int, threads: Int) throws -> [Sample] {
        var results = [Result<Sample, Error>?](repeating: nil, count: n)
        let ext = format.rawValue, quality = self.quality
        results.withUnsafeMutableBufferPointer { slots in
            // Workers write disjoint indices of `slots` (j ≡ worker mod threads).
            nonisolated(unsafe) let slots = slots
            DispatchQueue.concurrentPerform(iterations: threads) { worker in
                for j in stride(from: worker, to: n, by: threads) {
                    let index = first + j
                    slots[j] = Result {
                        let (image, params) = generator.render(index)
                        let bytes = ext == "png" ? try ImageCodec.encodePNG(image)
                                                 : try ImageCodec.encodeJPEG(image, quality: quality)
                        return Sample(key: String(format: "%08d", index), entries: [
                            ext: bytes,
                            "cls": Array("\(params.shape.rawValue)".utf8),
                            "json": Array(params.json(index: index).utf8),
                        ])
                    }
                }
            }
        }
        return try results.enumerated().map { j, r in
            guard let r else { throw OpError("synth-images: image \(first + j) was not rendered (internal error, please report)") }
            do { return try r.get() } catch {
                throw OpError("synth-images: cannot encode image \(first + j) as \(ext): \(error)")
            }
        }
    }

    /// Removes PREFIX-NNNNNN.tar files of an earlier run, so no stale shard is left behind.
    private func removeOldShards() throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []
        for name in names where name.hasPrefix(prefix + "-") && name.hasSuffix(".tar") {
            let digits = name.dropFirst(prefix.count + 1).dropLast(4)
            guard digits.count == 6, digits.allSatisfy(\.isNumber) else { continue }
            do { try FileManager.default.removeItem(atPath: out + "/" + name) } catch {
                throw OpError("\(out)/\(name): cannot remove the old shard: \(error.localizedDescription)")
            }
        }
    }

    private func writeClasses(shardPaths: [String]) throws {
        let names = SynthShape.allCases.prefix(classes).map { "\"\($0.name)\"" }.joined(separator: ", ")
        let files = shardPaths.map { "\"\(($0 as NSString).lastPathComponent)\"" }.joined(separator: ", ")
        let json = "{\"classes\": [\(names)], \"count\": \(total), \"size\": \(size), \"seed\": \(seed), "
            + "\"format\": \"\(format.rawValue)\", \"shards\": [\(files)]}\n"
        let path = out + "/classes.json"
        do { try Data(json.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw OpError("\(path): cannot write: \(error.localizedDescription)")
        }
    }
}
