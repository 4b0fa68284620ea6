import Foundation
import Testing
import FlowFormats
import FlowTestSupport
import XXHash

/// Samples with a few entries of pseudo-random bytes, from a seed.
func makeSamples(_ count: Int, seed: UInt64 = 1, imageBytes: Int = 700) -> [Sample] {
    var rng = SeededGenerator(seed: seed)
    return (0..<count).map { i in
        let image = (0..<(imageBytes + i % 37)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        var entries: [String: [UInt8]] = ["jpg": image, "cls": Array(String(i % 3).utf8)]
        if i % 4 == 0 { entries["json"] = Array("{\"i\": \(i)}".utf8) }
        if i % 5 == 0 { entries["seg.png"] = [] }
        return Sample(key: "dir/sample_\(String(format: "%04d", i))", entries: entries)
    }
}

func readAll(_ paths: [String]) throws -> [Sample] {
    var out: [Sample] = []
    for path in paths {
        let reader = try ShardReader(path: path)
        while let s = try reader.next() { out.append(s) }
    }
    return out
}

func fileBytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

@Suite struct ShardRoundTripTests {
    @Test(arguments: [false, true]) func roundTrip(lz4: Bool) throws {
        let dir = TemporaryDirectory("shards")
        let samples = makeSamples(25)
        let writer = try ShardWriter(directory: dir.path, prefix: "train", maxSamples: 10, lz4: lz4)
        for s in samples { try writer.write(s) }
        let paths = try writer.finish()
        let ext = lz4 ? ".tar.lz4" : ".tar"
        #expect(paths.map { URL(fileURLWithPath: $0).lastPathComponent } ==
                ["train-000000", "train-000001", "train-000002"].map { $0 + ext })
        #expect(try writer.finish() == paths)
        #expect(try readAll(paths) == samples)
        if lz4 { #expect(Array(try fileBytes(paths[0]).prefix(4)) == [0x04, 0x22, 0x4D, 0x18]) }
        // No temporary files left behind.
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(left.count == 3)
    }

    @Test func writingTwiceGivesIdenticalBytes() throws {
        var hashes: [[String]] = []
        for _ in 0..<2 {
            let dir = TemporaryDirectory("shards")
            let writer = try ShardWriter(directory: dir.path, prefix: "p", maxSamples: 7)
            for s in makeSamples(15, seed: 9) { try writer.write(s) }
            hashes.append(try writer.finish().map { XXH128.hash(try fileBytes($0)).description })
        }
        #expect(hashes[0].count == 3)
        #expect(hashes[0] == hashes[1])
    }

    @Test func entriesAreSortedWithPinnedHeaders() throws {
        let dir = TemporaryDirectory("shards")
        let writer = try ShardWriter(directory: dir.path, prefix: "p")
        try writer.write(Sample(key: "k", entries: ["txt": [1], "cls": [2], "jpg": [3], "_skip": [4]]))
        let path = try writer.finish()[0]
        let bytes = try fileBytes(path)
        func field(_ block: Int, _ start: Int, _ length: Int) -> String {
            String(decoding: bytes[(block * 512 + start)..<(block * 512 + start + length)].prefix { $0 != 0 }, as: UTF8.self)
        }
        #expect(field(0, 0, 100) == "k.cls" && field(2, 0, 100) == "k.jpg" && field(4, 0, 100) == "k.txt")
        #expect(field(6, 0, 100) == "")  // end of archive: no `_skip` entry
        #expect(field(0, 100, 8).hasPrefix("000444"))                // mode
        #expect(field(0, 136, 12).contains(String(ShardWriter.modificationTime, radix: 8)))  // mtime
        #expect(field(0, 257, 6) == "ustar" && field(0, 265, 32) == "bigdata" && field(0, 297, 32) == "bigdata")
        #expect(bytes.count == 8 * 512)
    }

    @Test func splitsByBytes() throws {
        let dir = TemporaryDirectory("shards")
        // Each sample: jpg of 1000 bytes (512 + 1024) + cls (512 + 512) = 2560 tar bytes.
        let samples = (0..<10).map { Sample(key: "s\($0)", entries: ["jpg": [UInt8](repeating: 7, count: 1000), "cls": [49]]) }
        #expect(ShardWriter.tarSize(of: samples[0]) == 2560)
        let writer = try ShardWriter(directory: dir.path, prefix: "b", maxSamples: 100, maxBytes: 3 * 2560)
        for s in samples { try writer.write(s) }
        let paths = try writer.finish()
        #expect(paths.count == 4)
        var counts: [Int] = []
        for p in paths { counts.append(try readAll([p]).count) }
        #expect(counts == [3, 3, 3, 1])
        #expect(try readAll(paths) == samples)
    }

    @Test func oversizedSampleGetsItsOwnShard() throws {
        let dir = TemporaryDirectory("shards")
        let writer = try ShardWriter(directory: dir.path, prefix: "b", maxBytes: 2048)
        try writer.write(Sample(key: "small", entries: ["cls": [49]]))
        try writer.write(Sample(key: "big", entries: ["bin": [UInt8](repeating: 1, count: 5000)]))
        try writer.write(Sample(key: "small2", entries: ["cls": [50]]))
        #expect(try writer.finish().count == 3)
    }

    @Test func zeroSamplesWriteNoShard() throws {
        let dir = TemporaryDirectory("shards")
        let writer = try ShardWriter(directory: dir.path, prefix: "e")
        #expect(try writer.finish().isEmpty)
        #expect(throws: FormatError.self) { try writer.write(Sample(key: "late", entries: ["cls": [1]])) }
    }

    @Test(arguments: [
        ("a.b", "jpg", "keys must not contain '.'"),
        ("/abs", "jpg", "absolute path"),
        ("x/../y", "jpg", "'..'"),
        ("__meta__", "jpg", "__meta__"),
        ("k", "JPG", "must be lower-case"),
        ("k", "a/b", "extensions must not contain '/'"),
    ]) func badSamplesAreRefused(key: String, ext: String, expected: String) throws {
        let dir = TemporaryDirectory("shards")
        let writer = try ShardWriter(directory: dir.path, prefix: "e")
        do {
            try writer.write(Sample(key: key, entries: [ext: [1]]))
            Issue.record("expected an error for \(key).\(ext)")
        } catch let error as FormatError {
            #expect(error.message.contains(expected), "\(error)")
        }
    }

    @Test func missingDirectoryIsAnError() throws {
        #expect(throws: FormatError.self) { _ = try ShardWriter(directory: "/nonexistent-flow-dir", prefix: "p") }
    }

    @Test func nonConsecutiveKeysMakeSeparateSamples() throws {
        let dir = TemporaryDirectory("shards")
        let writer = try ShardWriter(directory: dir.path, prefix: "p")
        try writer.write(Sample(key: "a", entries: ["cls": [49]]))
        try writer.write(Sample(key: "b", entries: ["cls": [50]]))
        try writer.write(Sample(key: "a", entries: ["txt": [51]]))
        #expect(try readAll(try writer.finish()).map(\.key) == ["a", "b", "a"])
    }
}

@Suite struct WebDatasetNameTests {
    @Test(arguments: [
        ("dir/n0144_10026.JPEG", "dir/n0144_10026", "jpeg"),
        ("a.b.c.jpg", "a", "b.c.jpg"),
        ("x.y/z.cls", "x.y/z", "cls"),
        ("dir/.hidden.jpg", "dir/", "hidden.jpg"),   // what the regular expression does
        ("k.", "k", ""),
    ]) func splits(name: String, key: String, ext: String) {
        let split = WebDatasetName.split(name)
        #expect(split?.key == key && split?.ext == ext)
    }

    @Test(arguments: ["README", ".hidden", "a.b/c", "dir/"]) func noExtension(name: String) {
        #expect(WebDatasetName.split(name) == nil)
    }

    @Test func metadata() {
        #expect(WebDatasetName.isMetadata("__index__"))  // top-level `__*__` entry
        #expect(!WebDatasetName.isMetadata("__index__.json"))  // webdataset reads this as key `__index__`
        #expect(WebDatasetName.isMetadata("__meta__/x.json"))
        #expect(!WebDatasetName.isMetadata("__a.json"))
        #expect(!WebDatasetName.isMetadata("dir/__x__.json"))
    }

    @Test func expandFindsShards() throws {
        let dir = TemporaryDirectory("expand")
        for name in ["s-000001.tar", "s-000000.tar", "s-000002.tar.lz4", "notes.txt"] { try dir.write(name, "x") }
        let base = dir.path
        #expect(try Shards.expand(base) == ["s-000000.tar", "s-000001.tar", "s-000002.tar.lz4"].map { base + "/" + $0 })
        #expect(try Shards.expand(base + "/s-*.tar") == ["s-000000.tar", "s-000001.tar"].map { base + "/" + $0 })
        #expect(try Shards.expand(base + "/s-{000000..000001}.tar").count == 2)
        #expect(try Shards.expand(base + "/s-000001.tar") == [base + "/s-000001.tar"])
        #expect(throws: FormatError.self) { _ = try Shards.expand(base + "/none-*.tar") }
    }
}
