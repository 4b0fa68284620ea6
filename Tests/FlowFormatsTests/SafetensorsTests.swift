import Foundation
import Testing
import FlowTestSupport
@testable import FlowFormats

@Suite struct SafetensorsTests {
    static func le64(_ n: Int) -> [UInt8] { withUnsafeBytes(of: UInt64(n).littleEndian) { Array($0) } }

    // dinov2-spec §7: 57 bytes of JSON padded to 64 → 8 + 64 + 16 = 88 bytes.
    @Test func specTestVector() throws {
        let file = SafetensorsFile(tensors: ["w": Tensor(float32: [1, 2, 3, 4], shape: [2, 2])])
        let bytes = try file.encode()
        let json = #"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#
        #expect(json.utf8.count == 57)
        #expect(bytes.count == 88)
        #expect(Array(bytes[0..<8]) == Self.le64(64))
        #expect(Array(bytes[8..<72]) == Array(json.utf8) + [UInt8](repeating: 0x20, count: 7))
        #expect(try SafetensorsFile.decode(bytes) == file)
    }

    // The reference implementation's own unit-test vectors (safetensors/src/tensor.rs).
    @Test func referenceVectors() throws {
        let empty = try SafetensorsFile().encode()
        #expect(empty == [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32])
        let withMeta = try SafetensorsFile(metadata: ["framework": "pt"]).encode()
        #expect(withMeta == Self.le64(40) + Array(#"{"__metadata__":{"framework":"pt"}}"#.utf8) + [32, 32, 32, 32, 32])
        let attn = try SafetensorsFile(tensors: ["attn.0": Tensor(float32: [0, 1, 2, 3, 4, 5], shape: [1, 2, 3])]).encode()
        #expect(Array(attn[0..<8]) == Self.le64(64))
        #expect(attn.count == 8 + 64 + 24)
        let aligned = try SafetensorsFile(tensors: ["attn0": Tensor(float32: [0, 1, 2, 3, 4, 5], shape: [1, 1, 2, 3])]).encode()
        #expect(Array(aligned[0..<8]) == Self.le64(72))
        #expect(aligned[(8 + 65)..<(8 + 72)].allSatisfy { $0 == 32 })
    }

    static let sample: SafetensorsFile = {
        var g = SeededGenerator(seed: 3)
        let f: [Float] = (0..<6).map { _ in Float.random(in: -1...1, using: &g) }
        return SafetensorsFile(tensors: [
            "b.weight": Tensor(float32: f, shape: [2, 3]),
            "a.half": Tensor(f, shape: [6], as: .f16),
            "a.brain": Tensor(f, shape: [3, 2], as: .bf16),
            "ids": Tensor(int64: [-1, 0, 1 << 40], shape: [3]),
            "i32": try! Tensor(dtype: .i32, shape: [2], bytes: [1, 0, 0, 0, 255, 255, 255, 255]),
            "mask": try! Tensor(dtype: .u8, shape: [2, 2], bytes: [0, 1, 2, 255]),
            "scalar": Tensor(float32: [7], shape: []),
            "empty": Tensor(float32: [], shape: [0, 4]),
            "flags": try! Tensor(dtype: .bool, shape: [3], bytes: [1, 0, 1]),
            "packed": try! Tensor(dtype: .f4, shape: [4], bytes: [0x12, 0x34]),
        ], metadata: ["format": "pt", "note": "quote \" backslash \\ newline \n tab \t ctl \u{1} é"])
    }()

    @Test func roundTripDeterminismAndOrder() throws {
        let dir = TemporaryDirectory()
        try Self.sample.write(to: dir.path + "/a.safetensors")
        try Self.sample.write(to: dir.path + "/b.safetensors")
        #expect(try dir.readData("a.safetensors") == dir.readData("b.safetensors"))
        #expect(try SafetensorsFile.read(path: dir.path + "/a.safetensors") == Self.sample)
        let header = try SafetensorsFile.readHeader(path: dir.path + "/a.safetensors")
        // Reference order: I64, F32 (by name), I32, BF16, F16, U8, F4, BOOL.
        #expect(header.tensors.map(\.name) == ["ids", "b.weight", "empty", "scalar", "i32", "a.brain", "a.half", "mask", "packed", "flags"])
        #expect(header.tensors.allSatisfy { $0.begin % 8 == 0 || $0.dtype.bitSize < 64 })
        #expect(header.metadata == Self.sample.metadata)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).count == 2)
    }

    @Test func conversions() throws {
        let t = Tensor([1, -0.5, 3], shape: [3], as: .bf16)
        #expect(try t.float32Values() == [1, -0.5, 3])
        #expect(try Tensor([0.1], shape: [1], as: .f16).float32Values() == [0.0999755859375])
        #expect(try Tensor(dtype: .i8, shape: [2], bytes: [0xFF, 5]).int64Values() == [-1, 5])
        #expect(throws: FormatError.self) { try Tensor(int64: [1], shape: [1]).float32Values() }
        #expect(throws: FormatError.self) { try Tensor(dtype: .f32, shape: [2], bytes: [0]) }
        #expect(throws: FormatError.self) { try Tensor(dtype: .f4, shape: [3], bytes: [0, 0]) }
    }

    /// A file with `json` as its header and `data` as its buffer (no padding).
    static func file(_ json: String, data: [UInt8] = []) -> [UInt8] {
        le64(json.utf8.count) + Array(json.utf8) + data
    }

    static let hostile: [(String, [UInt8], String)] = [
        ("empty", [], "shorter than the 8-byte header length"),
        ("huge N", le64(100_000_001) + [0x7B, 0x7D], "exceeds the limit of 100000000"),
        ("max u64", [UInt8](repeating: 0xFF, count: 8), "exceeds the limit"),
        ("N past end", le64(1000) + Array("{}".utf8), "truncated: the header declares 1000"),
        ("not utf8", le64(4) + [0x7B, 0xC3, 0x28, 0x7D], "not valid UTF-8 (at byte 9)"),
        ("not json", file("{\"a\":"), "malformed JSON header at byte"),
        ("not object", file("[1,2]"), "not an object"),
        ("duplicate", file(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, data: [1]), "duplicate key \"a\""),
        ("gap", file(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#, data: [0, 0]), "leave a gap after byte 0"),
        ("overlap", file(#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#, data: [0, 0]), "tensor 'b'"),
        ("reversed", file(#"{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"c":{"dtype":"U8","shape":[0],"data_offsets":[1,0]}}"#, data: [0]), "end before they begin"),
        ("size mismatch", file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), "needs 8 bytes but data_offsets [0, 4] span 4"),
        ("truncated data", file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0]), "truncated: the tensors need 8 data bytes"),
        ("trailing data", file(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, data: [0, 0]), "1 bytes after the last tensor"),
        ("overflow", file(#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}"#), "overflows"),
        ("huge number", file(#"{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}"#), "shape must be an array of non-negative integers"),
        ("negative", file(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#), "non-negative"),
        ("float shape", file(#"{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}"#), "non-negative integers"),
        ("three offsets", file(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}"#, data: [0]), "two non-negative integers"),
        ("unknown dtype", file(#"{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}"#, data: [0]), "unknown dtype \"Q7\""),
        ("missing field", file(#"{"a":{"dtype":"U8","shape":[1]}}"#), "needs dtype, shape and data_offsets"),
        ("bad metadata", file(#"{"__metadata__":{"k":1}}"#), "value of \"k\" is not a string"),
        ("packed partial byte", file(#"{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}"#, data: [0, 0]), "does not fill whole bytes"),
        ("deep", file(String(repeating: "[", count: 1000)), "nesting deeper than 64"),
        ("bad escape", file(#"{"a\q":1}"#), "invalid escape"),
        ("lone surrogate", file(#"{"\ud800":1}"#), "surrogate"),
    ]

    @Test(arguments: 0..<hostile.count)
    func hostileInputsGiveTheIntendedError(_ index: Int) {
        let (name, bytes, expected) = Self.hostile[index]
        do {
            let f = try SafetensorsFile.decode(bytes, path: "bad.safetensors")
            Issue.record("\(name): decoded \(f.tensors.count) tensors instead of failing")
        } catch let e as FormatError {
            #expect(e.path == "bad.safetensors")
            #expect(e.message.contains(expected), "\(name): \(e.message)")
        } catch {
            Issue.record("\(name): unexpected error \(error)")
        }
    }

    @Test func lenientWhereTheReferenceIs() throws {
        // Whitespace around the JSON, any key order, unknown fields, null metadata, escapes.
        let json = "  \n{\"__metadata__\":null, \"b\\u00e9\":{\"data_offsets\":[0,2],\"extra\":[1,{}],\"shape\":[2],\"dtype\":\"U8\"}}\t "
        let f = try SafetensorsFile.decode(Self.file(json, data: [4, 5]))
        #expect(f.tensors["bé"] == (try Tensor(dtype: .u8, shape: [2], bytes: [4, 5])))
        #expect(f.metadata.isEmpty)
    }

    @Test func everyTruncationFails() throws {
        let full = try Self.sample.encode()
        for n in stride(from: 0, to: full.count, by: 3) {
            #expect(throws: FormatError.self) { try SafetensorsFile.decode(Array(full[0..<n])) }
        }
    }
}
