// flow op embed: images in WebDataset shards → ViT embeddings as .npy, keys beside them.
import ArgumentParser
import Foundation
import FlowFormats
import FlowModels

/// `flow op embed`: decode, resize, ImageNet-normalise, run a ViT backbone, and write one
/// float32 row per sample, in shard order, plus the sample keys one per line.
struct EmbedOp: FlowOp, WritesFiles {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed the images of WebDataset shards with a ViT backbone (float32 .npy + keys).",
        discussion: """
        For each sample, in shard order (shards sorted by name, samples in file order): take \
        its image entry (jpg, jpeg or png; the first present in that order), decode to RGB, \
        take the largest centred square (--resize center-crop, the default) or the whole \
        image (--resize stretch), resize it to --image-size with antialiased bicubic, normalise \
        with the ImageNet mean and std, and run the model. The output row is the final-normed \
        class token (--pool cls, D values) or the class token followed by the mean of the patch \
        tokens (--pool cls+mean, 2D values, as DINOv2's linear evaluation); --normalize scales \
        each row to unit L2 norm. Writes OUT as float32 [N, D] and the sample keys, one per \
        line in the same order, to --keys (default: OUT with .npy replaced by .keys.txt). \
        Prints a summary: images, seconds, images/s, and the forward pass alone in images/s \
        and GFLOP/s.
        """)
    static let version = 1

    @Option(help: "Model checkpoint (.safetensors, as written by init-vit or training, or a converted DINOv2 backbone).")
    var model: String

    @Option(help: "Shards: a .tar/.tar.lz4 file, a directory of them, or a glob such as 'data/train-*.tar'.")
    var shards: String

    @Option(help: "Output .npy path: float32 [N, D].")
    var out: String

    @Option(help: "Keys output path, one sample key per line (default: OUT with .npy replaced by .keys.txt).")
    var keys: String?

    @Option(name: .customLong("image-size"),
            help: "Side of the square model input in pixels; a multiple of the patch size (default: the model's image size).")
    var imageSize: Int?

    @Option(help: "Images per forward pass.")
    var batch: Int = 16

    @Option(help: "Pooling: cls (the class token) or cls+mean (class token, then the patch-token mean).")
    var pool: TokenPooling = .cls

    @Flag(help: "Scale every output row to unit L2 norm.")
    var normalize = false

    @Option(help: "How to make the image square: center-crop (largest centred square) or stretch (whole image).")
    var resize: ResizeMode = .centerCrop

    @Option(help: "Threads for the forward pass (default: the step's cpus, FLOW_CPUS, else 1).")
    var threads: Int?

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1 (got \(batch))") }
        if let imageSize, imageSize <= 0 { throw ValidationError("--image-size must be positive (got \(imageSize))") }
    }

    var writtenFiles: [String] { [out, keysPath] }

    var keysPath: String {
        if let keys { return keys }
        return (out.hasSuffix(".npy") ? String(out.dropLast(4)) : out) + ".keys.txt"
    }

    func run() throws {
        let start = Date()
        let vit: ViT
        do { vit = try ViT.load(path: model) } catch let e as ModelError {
            throw OpError(e.message)
        } catch {
            throw OpError("\(model): cannot load the model: \(error)")
        }
        let side = imageSize ?? vit.config.imageSize
        guard side % vit.config.patch == 0 else {
            throw OpError("--image-size \(side) is not a multiple of the model's patch size \(vit.config.patch) (\(model)): use e.g. \(max(1, side / vit.config.patch) * vit.config.patch)")
        }
        let paths: [String]
        do { paths = try Shards.expand(shards) } catch { throw OpError("--shards \(shards): \(error)") }
        let threadCount = StepEnvironment.threads(threads)
        let width = pool == .cls ? vit.config.dim : 2 * vit.config.dim
        let writer = try NPYWriter(path: out, dtype: .float32, rowShape: [width])
        let decoder = try ImageDecoder()
        var allKeys: [String] = []
        var pending: [Float] = []
        var pendingCount = 0
        var forwardSeconds = 0.0

        func flush() throws {
            guard pendingCount > 0 else { return }
            let t0 = Date()
            let output = try vit.forward(images: pending, batch: pendingCount, height: side, width: side,
                                         threads: threadCount)
            forwardSeconds += Date().timeIntervalSince(t0)
            var rows = output.classTokens
            if pool == .clsMean { rows = Self.interleave(rows, output.patchTokenMean, dim: vit.config.dim) }
            if normalize { Self.normalizeRows(&rows, width: width) }
            try writer.append(rows)
            pending.removeAll(keepingCapacity: true)
            pendingCount = 0
            Progress.shared.report("embed \(allKeys.count) images")
        }

        for path in paths {
            let reader: ShardReader
            do { reader = try ShardReader(path: path) } catch { throw OpError("\(path): cannot open the shard: \(error)") }
            while let sample = try nextSample(reader, path) {
                guard let ext = Self.imageExtension(sample) else {
                    throw OpError("\(path): sample '\(sample.key)' has no jpg, jpeg or png entry (entries: \(sample.sortedExtensions.joined(separator: ", "))); embed needs one image per sample")
                }
                var image: ImageTensor
                do {
                    image = try decoder.decode(sample.entries[ext] ?? [], hint: ext, channels: 3)
                } catch let e as ImageError {
                    throw OpError("\(e.in(key: sample.key, shard: path))")
                } catch {
                    throw OpError("\(path): sample '\(sample.key)': cannot decode its .\(ext) entry: \(error)")
                }
                image = Self.prepare(image, side: side, resize: resize)
                pending += image.data
                pendingCount += 1
                allKeys.append(sample.key)
                if pendingCount == batch { try flush() }
            }
        }
        try flush()
        _ = try writer.finish()
        do {
            try (allKeys.map { $0 + "\n" }.joined()).write(toFile: keysPath, atomically: true, encoding: .utf8)
        } catch {
            throw OpError("\(keysPath): cannot write the keys: \(error.localizedDescription)")
        }
        let seconds = Date().timeIntervalSince(start)
        let n = allKeys.count
        let flops = vit.config.forwardFLOPs(height: side, width: side) * Double(n)
        print(String(format: "embed: %d images, %d dims, %.2f s, %.1f images/s; forward %.2f s, %.1f images/s, %.1f GFLOP/s (%d threads)",
                     n, width, seconds, Double(n) / max(seconds, 1e-9), forwardSeconds,
                     Double(n) / max(forwardSeconds, 1e-9), flops / max(forwardSeconds, 1e-9) / 1e9, threadCount))
    }

    func nextSample(_ reader: ShardReader, _ path: String) throws -> Sample? {
        do { return try reader.next() } catch { throw OpError("\(path): cannot read the next sample: \(error)") }
    }

    /// The sample's image entry: jpg, jpeg or png (first present in that order), else any
    /// entry whose last extension component is one of those.
    static func imageExtension(_ sample: Sample) -> String? {
        let kinds = ["jpg", "jpeg", "png"]
        if let e = kinds.first(where: { sample.entries[$0] != nil }) { return e }
        return sample.sortedExtensions.first { ext in kinds.contains { ext.hasSuffix("." + $0) } }
    }

    /// Square crop (or stretch), antialiased bicubic resize to side×side, ImageNet normalisation:
    /// the model input for embedding and for evaluation alike.
    static func prepare(_ image: ImageTensor, side: Int, resize: ResizeMode) -> ImageTensor {
        var input = resized(image, side: side, resize: resize)
        ImageNetNormalization.apply(&input)
        return input
    }

    /// The square crop (or stretch) and resize of `prepare`, without the normalisation.
    static func resized(_ image: ImageTensor, side: Int, resize: ResizeMode) -> ImageTensor {
        var region: PixelRegion? = nil
        if resize == .centerCrop {
            let s = min(image.height, image.width)
            region = PixelRegion(top: (image.height - s) / 2, left: (image.width - s) / 2, height: s, width: s)
        }
        var resized = image
        if region != nil || image.height != side || image.width != side {
            resized = Resize.resize(image, height: side, width: side, filter: .bicubic, antialias: true, region: region)
        }
        return resized
    }

    /// Row b of the result is row b of `a` followed by row b of `b`.
    static func interleave(_ a: [Float], _ b: [Float], dim: Int) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(a.count + b.count)
        for r in 0..<(a.count / dim) {
            out += a[(r * dim)..<((r + 1) * dim)]
            out += b[(r * dim)..<((r + 1) * dim)]
        }
        return out
    }

    static func normalizeRows(_ rows: inout [Float], width: Int) {
        for r in 0..<(rows.count / width) {
            var s: Float = 0
            for j in 0..<width { s += rows[r * width + j] * rows[r * width + j] }
            let inv = 1 / max(s.squareRoot(), 1e-12)
            for j in 0..<width { rows[r * width + j] *= inv }
        }
    }
}
