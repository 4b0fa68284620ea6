import Foundation
import FlowTestSupport
import Testing

/// `flow op init-vit` and `flow op embed`, run as a user would, on tiny synthetic shards.
@Suite struct EmbedOpTests {
    /// Shape and float32 values of a little-endian .npy file written by flow.
    func readNPY(_ data: Data) -> (shape: [Int], values: [Float])? {
        let bytes = [UInt8](data)
        guard bytes.count > 10, bytes[0] == 0x93 else { return nil }
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
        guard header.contains("'<f4'"), let open = header.range(of: "'shape': ("),
              let close = header[open.upperBound...].firstIndex(of: ")") else { return nil }
        let shape = header[open.upperBound..<close].split(separator: ",").compactMap {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        let start = 10 + headerLength
        let values = stride(from: start, to: bytes.count, by: 4).map { i in
            Float(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
        }
        return (shape, values)
    }

    func setUp(_ dir: TemporaryDirectory) throws {
        let synth = try FlowBinary.run(["op", "synth-images", "--count", "7", "--size", "20", "--shards", "2",
                                        "--out", "shards", "--format", "jpg"], in: dir.path)
        #expect(synth.status == 0, "\(synth)")
        let initVit = try FlowBinary.run(["op", "init-vit", "--arch", "vit-test", "--patch", "4", "--image-size", "16",
                                          "--registers", "1", "--seed", "3", "--out", "m.safetensors"], in: dir.path)
        #expect(initVit.status == 0, "\(initVit)")
    }

    @Test func embedsEverySampleInShardOrder() throws {
        let dir = TemporaryDirectory("embed")
        try setUp(dir)
        // 24 px: the 4x4 position grid is interpolated to 6x6; batches of 3 leave a remainder.
        let r = try FlowBinary.run(["op", "embed", "--model", "m.safetensors", "--shards", "shards", "--out", "e.npy",
                                    "--image-size", "24", "--batch", "3", "--pool", "cls+mean", "--normalize"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("embed: 7 images, 64 dims"))
        let e = try #require(readNPY(try dir.readData("e.npy")))
        #expect(e.shape == [7, 64])
        for row in 0..<7 {
            let norm = (0..<64).map { e.values[row * 64 + $0] * e.values[row * 64 + $0] }.reduce(0, +).squareRoot()
            #expect(abs(norm - 1) < 1e-5)
        }
        let keys = try dir.read("e.keys.txt").split(separator: "\n").map(String.init)
        #expect(keys.count == 7)
        #expect(keys == keys.sorted())

        // One image per batch gives the same rows; cls pooling gives the first half, unnormalised.
        let one = try FlowBinary.run(["op", "embed", "--model", "m.safetensors", "--shards", "shards/*.tar", "--out", "one.npy",
                                      "--keys", "one.txt", "--image-size", "24", "--batch", "1", "--pool", "cls+mean",
                                      "--normalize", "--threads", "2"], in: dir.path)
        #expect(one.status == 0, "\(one)")
        let o = try #require(readNPY(try dir.readData("one.npy")))
        #expect(o.shape == [7, 64])
        #expect(zip(o.values, e.values).allSatisfy { abs($0 - $1) < 1e-5 })
        #expect(try dir.read("one.txt") == dir.read("e.keys.txt"))
        let cls = try FlowBinary.run(["op", "embed", "--model", "m.safetensors", "--shards", "shards", "--out", "cls.npy"],
                                     in: dir.path)
        #expect(cls.status == 0, "\(cls)")
        #expect(try #require(readNPY(try dir.readData("cls.npy"))).shape == [7, 32])
    }

    @Test func initIsDeterministic() throws {
        let dir = TemporaryDirectory("init-vit")
        for name in ["a", "b"] {
            let r = try FlowBinary.run(["op", "init-vit", "--arch", "vit-test", "--patch", "4", "--image-size", "8",
                                        "--seed", "5", "--out", "\(name).safetensors"], in: dir.path)
            #expect(r.status == 0, "\(r)")
        }
        #expect(try dir.readData("a.safetensors") == dir.readData("b.safetensors"))
    }

    @Test func badInputsGiveClearErrors() throws {
        let dir = TemporaryDirectory("embed-bad")
        try setUp(dir)
        func fails(_ args: [String], _ expected: String) throws {
            let r = try FlowBinary.run(args, in: dir.path)
            #expect(r.status != 0, "\(args) succeeded")
            #expect(r.stderr.contains(expected), "\(args): \(r.stderr)")
        }
        try fails(["op", "init-vit", "--arch", "vit-test", "--patch", "4", "--image-size", "30", "--out", "x.safetensors"],
                  "not a multiple of --patch 4")
        try fails(["op", "init-vit", "--arch", "vit-huge", "--out", "x.safetensors"], "unknown architecture 'vit-huge'")
        try fails(["op", "embed", "--model", "m.safetensors", "--shards", "shards", "--out", "x.npy", "--image-size", "18"],
                  "not a multiple of the model's patch size 4")
        try fails(["op", "embed", "--model", "missing.safetensors", "--shards", "shards", "--out", "x.npy"],
                  "missing.safetensors")
        // A safetensors file that is not a ViT: {"weight": F32 [1]}.
        let json = #"{"weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        var other = Data()
        withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian) { other.append(contentsOf: $0) }
        other.append(contentsOf: Array(json.utf8) + [0, 0, 128, 63])
        try dir.write("other.safetensors", other)
        try fails(["op", "embed", "--model", "other.safetensors", "--shards", "shards", "--out", "x.npy"],
                  "not a DINOv2 ViT backbone")
        // A shard whose sample has no image.
        try dir.write("noimg/a.txt", "hello")
        let tar = try FlowBinary.runProgram("tar", ["-cf", "noimg.tar", "-C", "noimg", "a.txt"], in: dir.path)
        #expect(tar.status == 0, "\(tar)")
        try fails(["op", "embed", "--model", "m.safetensors", "--shards", "noimg.tar", "--out", "x.npy"],
                  "sample 'a' has no jpg, jpeg or png entry")
        try fails(["op", "embed", "--model", "m.safetensors", "--shards", "shards", "--out", "x.npy", "--pool", "max"],
                  "The value 'max' is invalid for '--pool <pool>'. Please provide one of 'cls' and 'cls+mean'.")
    }
}
