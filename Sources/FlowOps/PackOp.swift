// flow op pack: an ImageFolder tree (one subfolder per class) into WebDataset shards.
import ArgumentParser
import Foundation
import FlowFormats

/// `flow op pack DIR --out SHARDS_DIR`: packs a folder of images, one subfolder per class, into
/// WebDataset tar shards with `.cls` labels and a `classes.json`.
struct PackOp: FlowOp {
    static let configuration = CommandConfiguration(
        commandName: "pack",
        abstract: "Pack an ImageFolder tree (one subfolder per class) into WebDataset tar shards.",
        discussion: """
        DIR holds one subfolder per class (torchvision's ImageFolder convention). Class indices \
        follow the byte-wise sorted folder names, starting at 0. Every image file (jpg, jpeg, png, \
        ppm, bmp, pgm, tif, tiff, webp; any case) in a class folder becomes one sample: its bytes \
        under the file's lower-cased extension and the class index as ASCII text under 'cls'. \
        Samples go in sorted class order, then sorted file name order. The sample key is \
        CLASS_STEM with every '.' replaced by '_' (WebDataset keys cannot contain dots), so \
        'dog/img.01.JPG' becomes key 'dog_img_01' with entries 'dog_img_01.cls' and \
        'dog_img_01.jpg'. Two files giving the same key are an error. Hidden files, files \
        directly in DIR and other file types are skipped and counted. \
        Shards are SHARDS_DIR/PREFIX-000000.tar, -000001, ... (.tar.lz4 with --lz4), byte-identical \
        for identical input; existing PREFIX-NNNNNN shards in SHARDS_DIR are removed first. \
        SHARDS_DIR/classes.json records the class names in index order, the samples per class \
        and the shard names.
        """)
    static let version = 1

    @Argument(help: "The image folder: one subfolder per class.")
    var directory: String

    @Option(name: .customLong("out"), help: "Directory for the shards and classes.json (created if missing).")
    var output: String

    @Option(help: "Samples per shard.")
    var perShard: Int = 1000

    @Option(help: "Also start a new shard before one would exceed this many tar bytes (headers included).")
    var maxBytes: Int?

    @Option(help: "Shard file name prefix: PREFIX-000000.tar.")
    var prefix: String = "shard"

    @Flag(help: "Compress shards with LZ4 (PREFIX-000000.tar.lz4). Images are already compressed, so this mostly costs time.")
    var lz4 = false

    static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "ppm", "bmp", "pgm", "tif", "tiff", "webp"]

    func validate() throws {
        guard perShard > 0 else { throw ValidationError("--per-shard must be at least 1 (got \(perShard))") }
        if let maxBytes, maxBytes <= 0 { throw ValidationError("--max-bytes must be positive (got \(maxBytes))") }
        guard !prefix.isEmpty, !prefix.contains("/") else { throw ValidationError("--prefix must be a file name without '/'") }
    }

    func run() throws {
        let plan = try PackPlan.scan(directory)
        guard !plan.files.isEmpty else {
            throw OpError("\(directory): no images found; expected one subfolder per class holding jpg/png files")
        }
        do {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        } catch {
            throw OpError("\(output): cannot create the output directory: \(error.localizedDescription)")
        }
        try removeStaleShards()
        let writer: ShardWriter
        do {
            writer = try ShardWriter(directory: output, prefix: prefix, maxSamples: perShard, maxBytes: maxBytes, lz4: lz4)
        } catch { throw OpError("\(error)") }
        let labels = plan.classes.indices.map { Array(String($0).utf8) }
        for (n, file) in plan.files.enumerated() {
            let bytes: [UInt8]
            do { bytes = try readFile(file.path) } catch { throw OpError("\(file.path): cannot read: \(error)") }
            do {
                try writer.write(Sample(key: file.key, entries: [file.ext: bytes, "cls": labels[file.classIndex]]))
            } catch { throw OpError("\(file.path): \(error)") }
            if (n + 1) % 1000 == 0 { Progress.shared.report("pack \(n + 1)/\(plan.files.count) samples") }
        }
        let shards: [String]
        do { shards = try writer.finish() } catch { throw OpError("\(error)") }
        try writeClasses(plan, shards: shards)
        let skipped = plan.skipped > 0 ? ", skipped \(plan.skipped) other files" : ""
        print("pack: \(plan.files.count) samples in \(plan.classes.count) classes into \(shards.count) shards in \(output)\(skipped)")
    }

    /// Removes PREFIX-NNNNNN.tar and .tar.lz4 left by an earlier run, so a directory glob sees only this run's shards.
    func removeStaleShards() throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: output)) ?? []
        for name in names where isShardName(name) {
            do { try FileManager.default.removeItem(atPath: output + "/" + name) } catch {
                throw OpError("\(output)/\(name): cannot remove the stale shard: \(error.localizedDescription)")
            }
        }
    }

    func isShardName(_ name: String) -> Bool {
        let head = prefix + "-"
        guard name.hasPrefix(head) else { return false }
        var rest = Substring(name.dropFirst(head.count))
        if rest.hasSuffix(".tar.lz4") { rest = rest.dropLast(8) } else if rest.hasSuffix(".tar") { rest = rest.dropLast(4) } else { return false }
        return rest.count >= 6 && rest.allSatisfy { $0.isASCII && $0.isNumber }
    }

    func writeClasses(_ plan: PackPlan, shards: [String]) throws {
        var counts = [Int](repeating: 0, count: plan.classes.count)
        for f in plan.files { counts[f.classIndex] += 1 }
        let object: [String: Any] = [
            "classes": plan.classes,
            "counts": counts,
            "samples": plan.files.count,
            "shards": shards.map { ($0 as NSString).lastPathComponent },
        ]
        let path = output + "/classes.json"
        do {
            var data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            data.append(0x0A)
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw OpError("\(path): cannot write: \(error.localizedDescription)")
        }
    }
}
