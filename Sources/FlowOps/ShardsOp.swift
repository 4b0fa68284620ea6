// flow op shards ls|info|cat: look inside WebDataset shards.
import ArgumentParser
import Foundation
import FlowFormats

/// `flow op shards ls|info|cat`: list, count and extract the samples of WebDataset shards.
struct ShardsOp: FlowOp {
    static let configuration = CommandConfiguration(
        commandName: "shards",
        abstract: "Inspect WebDataset tar shards: list samples, count them, extract one entry.",
        discussion: """
        SHARDS is a shard (.tar or .tar.lz4), a directory (every *.tar and *.tar.lz4 directly \
        inside), or a glob such as 'data/train-*.tar' or 'data/train-{000000..000009}.tar' \
        (quote it). Shards are read sequentially and streamed, never loaded whole; a damaged \
        shard is reported with its name, the entry and the byte offset.
        """,
        subcommands: [List.self, Info.self, Cat.self])
    static let version = 1

    /// Expands every pattern, turning format errors into op errors.
    static func expand(_ patterns: [String]) throws -> [String] {
        var paths: [String] = []
        for pattern in patterns {
            do { paths += try Shards.expand(pattern) } catch { throw OpError("\(error)") }
        }
        return paths
    }

    /// Reads every sample of `path`, handing each to `body`.
    static func forEachSample(_ path: String, _ body: (Sample) throws -> Void) throws {
        do {
            let reader = try ShardReader(path: path)
            while let sample = try reader.next() { try body(sample) }
        } catch let error as FormatError {
            throw OpError("\(error)")
        }
    }

    /// `flow op shards ls SHARDS`: one line per sample.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls",
            abstract: "List samples: one line per sample, 'SHARD<TAB>KEY<TAB>EXT:BYTES EXT:BYTES ...'.",
            discussion: "Extensions are listed in the order the entries are stored (sorted).")

        @Argument(help: "Shards: paths, directories or globs.")
        var shards: [String]

        func run() throws {
            var out = ""
            for path in try ShardsOp.expand(shards) {
                try ShardsOp.forEachSample(path) { s in
                    let parts = s.sortedExtensions.map { "\($0):\(s.entries[$0]?.count ?? 0)" }
                    out += path + "\t" + s.key + "\t" + parts.joined(separator: " ") + "\n"
                    if out.utf8.count > 1 << 16 { print(out, terminator: ""); out = "" }
                }
            }
            print(out, terminator: "")
        }
    }

    /// `flow op shards info SHARDS`: counts.
    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "info",
            abstract: "Count shards, samples, classes (distinct .cls values), entries and bytes.",
            discussion: """
            Reads every entry of every shard (so it also checks that the shards are intact). \
            'payload bytes' is the sum of entry sizes; 'file bytes' is the shards' size on disk. \
            Samples whose .cls is missing or not an integer are counted separately.
            """)

        @Argument(help: "Shards: paths, directories or globs.")
        var shards: [String]

        @Flag(help: "Print one JSON object instead of text.")
        var json = false

        func run() throws {
            let paths = try ShardsOp.expand(shards)
            var samples = 0, entries = 0, payload = 0, fileBytes = 0, unlabeled = 0
            var classes = Set<Int>()
            var extensions: [String: Int] = [:]
            for (i, path) in paths.enumerated() {
                let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
                fileBytes += size ?? 0
                try ShardsOp.forEachSample(path) { s in
                    samples += 1
                    entries += s.entries.count
                    payload += s.payloadBytes
                    for ext in s.entries.keys { extensions[ext, default: 0] += 1 }
                    if let c = s.classIndex { classes.insert(c) } else { unlabeled += 1 }
                }
                Progress.shared.report("shards info \(i + 1)/\(paths.count)")
            }
            if json {
                let object: [String: Any] = [
                    "shards": paths.count, "samples": samples, "classes": classes.count,
                    "samples_without_class": unlabeled, "entries": entries, "payload_bytes": payload,
                    "file_bytes": fileBytes, "extensions": extensions,
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                let exts = extensions.keys.sorted().map { "\($0) \(extensions[$0] ?? 0)" }.joined(separator: ", ")
                print("""
                shards: \(paths.count)
                samples: \(samples)
                classes: \(classes.count)\(unlabeled > 0 ? " (\(unlabeled) samples without a .cls)" : "")
                entries: \(entries) (\(exts.isEmpty ? "none" : exts))
                payload bytes: \(payload)
                file bytes: \(fileBytes)
                """)
            }
        }
    }

    /// `flow op shards cat SHARD KEY EXT`: one entry's bytes to stdout.
    struct Cat: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cat",
            abstract: "Write one entry's bytes to stdout: the EXT entry of the sample KEY.",
            discussion: "SHARD may also be a directory or glob; the first sample with KEY wins. EXT is case-insensitive, without the dot (jpg, cls, seg.png).")

        @Argument(help: "The shard (or a directory or glob of shards).")
        var shard: String

        @Argument(help: "The sample key, e.g. dog_img_01.")
        var key: String

        @Argument(help: "The extension, e.g. jpg or cls.")
        var ext: String

        func run() throws {
            let wanted = ext.lowercased().hasPrefix(".") ? String(ext.lowercased().dropFirst()) : ext.lowercased()
            let paths = try ShardsOp.expand([shard])
            for path in paths {
                var found: Sample?
                do {
                    let reader = try ShardReader(path: path)
                    while found == nil, let s = try reader.next() {
                        if s.key == key { found = s }
                    }
                    reader.close()
                } catch let error as FormatError { throw OpError("\(error)") }
                guard let sample = found else { continue }
                guard let bytes = sample.entries[wanted] else {
                    throw OpError("\(path): sample '\(key)' has no '\(wanted)' entry; it has: \(sample.sortedExtensions.joined(separator: ", "))")
                }
                FileHandle.standardOutput.write(Data(bytes))
                return
            }
            throw OpError("\(shard): no sample with key '\(key)' in \(paths.count) shard(s); list the keys with `flow op shards ls \(shard)`")
        }
    }
}
