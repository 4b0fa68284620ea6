import Foundation
import Testing
import FlowTestSupport
@testable import FlowFormats

@Suite struct SafetensorsWriterTests {
    @Test func streamingMatchesWholeFileWrite() throws {
        let dir = TemporaryDirectory()
        let a: [Float] = (0..<12).map { Float($0) / 3 }
        let b: [Float] = [1, 2, 3, 4]
        let w = try SafetensorsWriter(path: dir.path + "/s.safetensors", tensors: [
            (name: "emb", dtype: .f32, shape: [4, 3]),
            (name: "half", dtype: .f16, shape: [4]),
            (name: "ids", dtype: .i64, shape: [2]),
        ], metadata: ["rows": "4"])
        #expect(w.order == ["ids", "emb", "half"])
        // Out of file order, and in pieces.
        try w.append("half", b)
        try w.append("emb", Array(a[0..<5]))
        try w.append("emb", Array(a[5...]))
        try w.append("ids", bytes: [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0])
        try w.finish()
        let whole = SafetensorsFile(tensors: [
            "emb": Tensor(float32: a, shape: [4, 3]),
            "half": Tensor(b, shape: [4], as: .f16),
            "ids": Tensor(int64: [1, 2], shape: [2]),
        ], metadata: ["rows": "4"])
        try whole.write(to: dir.path + "/w.safetensors")
        #expect(try dir.readData("s.safetensors") == dir.readData("w.safetensors"))
    }

    @Test func misuseIsReported() throws {
        let dir = TemporaryDirectory()
        #expect(throws: FormatError.self) {
            try SafetensorsWriter(path: dir.path + "/d.safetensors", tensors: [(name: "x", dtype: .u8, shape: [1]), (name: "x", dtype: .u8, shape: [1])])
        }
        let w = try SafetensorsWriter(path: dir.path + "/s.safetensors", tensors: [(name: "x", dtype: .f32, shape: [2])])
        #expect(throws: FormatError.self) { try w.append("y", [1] as [Float]) }
        #expect(throws: FormatError.self) { try w.append("x", [1, 2, 3] as [Float]) }
        try w.append("x", [1] as [Float])
        #expect { try w.finish() } throws: { ($0 as? FormatError)?.message.contains("incomplete: tensor 'x' has 4 of its 8 bytes") == true }
    }

    @Test func abandonedWriterLeavesNothing() throws {
        let dir = TemporaryDirectory()
        do {
            let w = try SafetensorsWriter(path: dir.path + "/s.safetensors", tensors: [(name: "x", dtype: .f32, shape: [2])])
            try w.append("x", [1] as [Float])
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }
}
