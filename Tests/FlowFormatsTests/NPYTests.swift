import Foundation
import Testing
import FlowTestSupport
@testable import FlowFormats

@Suite struct NPYTests {
    // dinov2-spec §7: float32 zeros (2, 3) → 152 bytes, header length 0x76, data at byte 128.
    @Test func specTestVector() throws {
        let bytes = NPY.encode(NPYArray(float32: [Float](repeating: 0, count: 6), shape: [2, 3]))
        #expect(bytes.count == 152)
        #expect(Array(bytes[0..<6]) == [0x93] + Array("NUMPY".utf8))
        #expect(Array(bytes[6..<10]) == [0x01, 0x00, 0x76, 0x00])
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
            + String(repeating: " ", count: 58) + "\n"
        #expect(String(decoding: bytes[10..<128], as: UTF8.self) == header)
        #expect(bytes[128...].allSatisfy { $0 == 0 })
    }

    @Test func shapeRepr() {
        #expect(NPY.shapeText([]) == "()")
        #expect(NPY.shapeText([3]) == "(3,)")
        #expect(NPY.shapeText([2, 3]) == "(2, 3)")
    }

    static let sampleArrays: [NPYArray] = {
        var g = SeededGenerator(seed: 7)
        return [
            NPYArray(float32: (0..<24).map { _ in Float.random(in: -3...3, using: &g) }, shape: [2, 3, 4]),
            NPYArray(float16: [0, 1, -2.5, 65504, 1e-7, .infinity], shape: [6]),
            NPYArray(int32: [Int32.min, -1, 0, Int32.max], shape: [2, 2]),
            NPYArray(int64: [Int64.min, 42, Int64.max], shape: [3]),
            NPYArray(uint8: [0, 7, 255], shape: [3, 1]),
            NPYArray(bool: [true, false, true, true], shape: [4]),
            NPYArray(float32: [3.5], shape: []),
            NPYArray(float32: [], shape: [0, 5]),
        ]
    }()

    @Test(arguments: sampleArrays)
    func roundTripThroughFile(_ array: NPYArray) throws {
        let dir = TemporaryDirectory()
        let path = dir.path + "/a.npy"
        try NPY.write(array, to: path)
        #expect(try NPY.read(path: path) == array)
        let h = try NPY.readHeader(path: path)
        #expect(h.dtype == array.dtype && h.shape == array.shape && h.dataOffset % 64 == 0)
        // Deterministic: the same array gives the same bytes.
        try NPY.write(array, to: dir.path + "/b.npy")
        #expect(try dir.readData("a.npy") == dir.readData("b.npy"))
        // No temporary file is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["a.npy", "b.npy"])
    }

    @Test func mappedDataIsTheArrayBytes() throws {
        let dir = TemporaryDirectory()
        let a = NPYArray(int32: [1, -2, 3, -4, 5, -6], shape: [3, 2])
        try NPY.write(a, to: dir.path + "/m.npy")
        let (dtype, shape, bytes) = try NPY.withMappedData(path: dir.path + "/m.npy") { ($0, $1, Array($2)) }
        #expect(dtype == .int32 && shape == [3, 2] && bytes == a.bytes)
    }

    @Test func conversions() throws {
        let h = NPYArray(float16: [0.1, 1, -2], shape: [3])
        #expect(try h.float32Values() == [Float(0.0999755859375), 1, -2])
        #expect(try NPYArray(bool: [true, false], shape: [2]).int64Values() == [1, 0])
        #expect(try NPYArray(int32: [-5, 6], shape: [2]).int64Values() == [-5, 6])
        #expect(try NPYArray(uint8: [200], shape: [1]).int64Values() == [200])
        #expect(throws: FormatError.self) { try NPYArray(int64: [1], shape: [1]).float32Values() }
        #expect(throws: FormatError.self) { try NPYArray(float32: [1], shape: [1]).int64Values() }
        #expect(throws: FormatError.self) { try NPYArray(dtype: .float32, shape: [2], bytes: [0, 0, 0, 0]) }
    }

    /// A header written by hand, with `body` as the dict text, in format `version`.
    static func file(_ body: String, version: UInt8 = 1, data: [UInt8]) -> [UInt8] {
        var header = Array(body.utf8) + [0x0A]
        let pre = version == 1 ? 10 : 12
        while (pre + header.count) % 64 != 0 { header.insert(0x20, at: header.count - 1) }
        var out = NPY.magic + [version, 0]
        if version == 1 {
            out += [UInt8(header.count & 0xFF), UInt8(header.count >> 8)]
        } else {
            out += withUnsafeBytes(of: UInt32(header.count).littleEndian) { Array($0) }
        }
        return out + header + data
    }

    @Test func lenientHeaderSyntax() throws {
        let data: [UInt8] = [1, 0, 0, 0, 2, 0, 0, 0]
        for body in [
            "{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<i4\"}",
            "{'descr':'<i4','fortran_order':False,'shape':(2L,)}",
            "  { 'fortran_order' : False , 'shape' : ( 2 , ) , 'descr' : '<i4' , }  ",
        ] {
            let a = try NPY.decode(Self.file(body, data: data))
            #expect(try a.shape == [2] && a.dtype == .int32 && a.int64Values() == [1, 2])
        }
        let v2 = try NPY.decode(Self.file("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", version: 2, data: data))
        #expect(try v2.int64Values() == [1, 2])
        let oneByte = try NPY.decode(Self.file("{'descr': '<u1', 'fortran_order': False, 'shape': (1,), }", data: [9]))
        #expect(oneByte.dtype == .uint8)
    }

    /// Each hostile input gives a FormatError whose message contains `expected`.
    static let hostile: [(String, [UInt8], String)] = [
        ("empty", [], "shorter than the 10-byte preamble"),
        ("not npy", Array("PK\u{3}\u{4}hello world".utf8), "not a .npy file"),
        ("version", NPY.magic + [4, 0, 0, 0], "unsupported .npy format version 4.0"),
        ("huge header length", NPY.magic + [2, 0, 0xFF, 0xFF, 0xFF, 0x7F], "exceeds"),
        ("header past end", NPY.magic + [1, 0, 0xFF, 0x00] + Array("{'descr'".utf8), "truncated: the header declares 255"),
        ("object", file("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", data: [0]), "object arrays"),
        ("fortran", file("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", data: [0, 0, 0, 0]), "Fortran-order"),
        ("big endian", file("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", data: [0, 0, 0, 0]), "big-endian"),
        ("float64", file("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", data: [UInt8](repeating: 0, count: 8)), "'<f8' is not supported"),
        ("structured", file("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", data: [0, 0, 0, 0]), "structured"),
        ("short data", file("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data: [0, 0, 0, 0]), "needs 8 data bytes from offset 128, the file has 4"),
        ("extra data", file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", data: [0, 0, 0, 0, 9]), "1 unexpected bytes"),
        ("overflow", file("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", data: []), "too large"),
        ("huge int", file("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }", data: []), "integer too large"),
        ("negative", file("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", data: []), "non-negative"),
        ("not a tuple", file("{'descr': '<f4', 'fortran_order': False, 'shape': (3), }", data: []), "tuple"),
        ("missing key", file("{'descr': '<f4', 'shape': (1,), }", data: [0, 0, 0, 0]), "lacks one of the keys"),
        ("extra key", file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", data: [0, 0, 0, 0]), "unexpected or repeated key 'x'"),
        ("garbage", file("{'descr': '<f4', 'fortran_order': Fals, 'shape': (1,), }", data: [0, 0, 0, 0]), "malformed header at offset"),
        ("deep", file("{'descr': " + String(repeating: "(", count: 100), data: []), "nesting deeper"),
        ("unterminated", file("{'descr: '<f4'", data: []), "malformed header"),
    ]

    @Test(arguments: 0..<hostile.count)
    func hostileInputsGiveTheIntendedError(_ index: Int) {
        let (name, bytes, expected) = Self.hostile[index]
        do {
            let a = try NPY.decode(bytes, path: "bad.npy")
            Issue.record("\(name): decoded \(a.shape) instead of failing")
        } catch let e as FormatError {
            #expect(e.path == "bad.npy")
            #expect(e.message.contains(expected), "\(name): \(e.message)")
        } catch {
            Issue.record("\(name): unexpected error \(error)")
        }
    }

    @Test func everyTruncationFails() throws {
        let full = NPY.encode(NPYArray(int64: [1, 2, 3], shape: [3]))
        for n in 0..<full.count {
            #expect(throws: FormatError.self) { try NPY.decode(Array(full[0..<n])) }
        }
    }

    @Test func missingFileNamesThePath() {
        #expect { try NPY.read(path: "/nonexistent/x.npy") } throws: { e in
            (e as? FormatError)?.description.hasPrefix("/nonexistent/x.npy: cannot open") == true
        }
    }
}
