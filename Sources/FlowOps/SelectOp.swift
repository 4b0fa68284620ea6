// flow op select: copy the samples chosen by an index array into new shards.
import ArgumentParser
import Foundation
import FlowFormats

/// `flow op select`: streams the input shards once and writes the samples whose position is
/// listed in the index into new, deterministic shards.
struct SelectOp: FlowOp {
    static let configuration = CommandConfiguration(
        commandName: "select",
        abstract: "Write the samples chosen by an index array into new shards.",
        discussion: """
        Sample positions count from 0 over all input shards in sorted order (the order of \\
        `--shards` expansion: a file, a directory or a glob). The output keeps input order, \\
        whatever the order of the index. A position listed m times (balanced sampling with a \\
        multiplier) is written m times; copies 2..m get the key suffix _dupN so that keys stay \\
        unique. Shards are PREFIX-000000.tar, ... with pinned metadata: the same inputs give \\
        byte-identical shards. See docs/curation.md.
        """)
    static let version = 1

    @Option(help: "Input shards: a .tar/.tar.lz4 file, a directory of them, or a glob.")
    var shards: String

    @Option(help: "Sample positions to keep: a 1-D integer .npy (e.g. from dedup, retrieve --union or sample-clusters).")
    var index: String

    @Option(help: "Output directory (created if missing).")
    var out: String

    @Option(help: "Output shard name prefix.")
    var prefix: String = "selected"

    @Option(help: "Samples per output shard.")
    var maxSamples: Int = 1000

    @Flag(help: "Compress output shards with LZ4 (.tar.lz4).")
    var lz4 = false

    func validate() throws {
        guard maxSamples >= 1 else { throw ValidationError("--max-samples must be at least 1") }
    }

    func run() throws {
        let start = Date()
        let wanted = try CurationIO.readIndices(index, what: "sample index")
        if let bad = wanted.firstIndex(where: { $0 < 0 }) {
            throw OpError("\(index): entry \(bad) is \(wanted[bad]); sample positions start at 0")
        }
        var copies = [Int: Int]()
        for w in wanted { copies[w, default: 0] += 1 }
        let paths: [String]
        do { paths = try Shards.expand(shards) } catch let e as FormatError { throw OpError(e.description) }
        guard !paths.isEmpty else { throw OpError("\(shards): no shards found (expected .tar or .tar.lz4 files)") }
        try CurationIO.makeDirectory(out)
        var position = 0, written = 0
        do {
            let writer = try ShardWriter(directory: out, prefix: prefix, maxSamples: maxSamples, lz4: lz4)
            for path in paths {
                let reader = try ShardReader(path: path)
                while let sample = try reader.next() {
                    if let m = copies[position] {
                        try writer.write(sample)
                        for c in 1..<max(1, m) {
                            try writer.write(Sample(key: sample.key + "_dup\(c)", entries: sample.entries))
                        }
                        written += m
                    }
                    position += 1
                }
                Progress.shared.report("\(path): \(position) samples read, \(written) written")
            }
            let outputs = try writer.finish()
            if let maxWanted = wanted.max(), maxWanted >= position {
                let at = wanted.firstIndex(of: maxWanted) ?? 0
                for o in outputs { try? FileManager.default.removeItem(atPath: o) }
                throw OpError("\(index): entry \(at) is \(maxWanted) but the shards (\(shards)) hold only \(position) samples")
            }
            print("select: \(written) of \(position) samples into \(outputs.count) shards in \(out) (\(CurationIO.elapsed(start)))")
        } catch let e as FormatError {
            throw OpError(e.description)
        }
    }
}
