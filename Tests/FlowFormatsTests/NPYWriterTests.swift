import Foundation
import Testing
import FlowTestSupport
@testable import FlowFormats

@Suite struct NPYWriterTests {
    let values: [Float] = (0..<12).map { Float($0) * 0.5 - 2 }

    @Test func fixedShapeMatchesWholeArrayWrite() throws {
        let dir = TemporaryDirectory()
        let w = try NPYWriter(path: dir.path + "/s.npy", dtype: .float32, shape: [4, 3])
        try w.append(Array(values[0..<5]))   // rows may span calls
        try w.append(Array(values[5...]))
        #expect(try w.finish() == [4, 3])
        try NPY.write(NPYArray(float32: values, shape: [4, 3]), to: dir.path + "/w.npy")
        #expect(try dir.readData("s.npy") == dir.readData("w.npy"))
    }

    @Test func countedRowsArePatchedIntoTheHeader() throws {
        let dir = TemporaryDirectory()
        let w = try NPYWriter(path: dir.path + "/s.npy", dtype: .float32, rowShape: [3])
        for r in 0..<4 { try w.append(Array(values[(3 * r)..<(3 * r + 3)])) }
        #expect(try w.finish() == [4, 3])
        try NPY.write(NPYArray(float32: values, shape: [4, 3]), to: dir.path + "/w.npy")
        #expect(try dir.readData("s.npy") == dir.readData("w.npy"))
    }

    @Test func countedRowsZeroRows() throws {
        let dir = TemporaryDirectory()
        let w = try NPYWriter(path: dir.path + "/s.npy", dtype: .int64, rowShape: [2])
        #expect(try w.finish() == [0, 2])
        #expect(try NPY.read(path: dir.path + "/s.npy") == NPYArray(int64: [], shape: [0, 2]))
    }

    @Test func float16RowsAreRounded() throws {
        let dir = TemporaryDirectory()
        let w = try NPYWriter(path: dir.path + "/h.npy", dtype: .float16, rowShape: [2])
        try w.append([1.0, 0.1])
        try w.finish()
        #expect(try NPY.read(path: dir.path + "/h.npy").float32Values() == [1.0, 0.0999755859375])
    }

    @Test func wrongAmountsOfDataAreRefused() throws {
        let dir = TemporaryDirectory()
        let w = try NPYWriter(path: dir.path + "/s.npy", dtype: .float32, shape: [2, 2])
        try w.append([1, 2, 3] as [Float])
        #expect { try w.finish() } throws: { ($0 as? FormatError)?.message.contains("incomplete") == true }
        #expect(throws: FormatError.self) { try w.append([4, 5] as [Float]) }
        let r = try NPYWriter(path: dir.path + "/r.npy", dtype: .float32, rowShape: [2])
        try r.append([1, 2, 3] as [Float])
        #expect { try r.finish() } throws: { ($0 as? FormatError)?.message.contains("incomplete last row") == true }
        #expect(throws: FormatError.self) { try r.append([Int64(1)]) }
    }

    @Test func abandonedWriterLeavesNothing() throws {
        let dir = TemporaryDirectory()
        do {
            let w = try NPYWriter(path: dir.path + "/s.npy", dtype: .float32, shape: [2])
            try w.append([1] as [Float])
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test func headerPatchIsByteExactForLargeRowCounts() {
        // The growth room keeps the header length constant from 0 rows up to 21 digits.
        let small = NPY.headerBytes(dtype: .float32, shape: [0, 384])
        let large = NPY.headerBytes(dtype: .float32, shape: [123_456_789_012, 384])
        #expect(small.count == large.count)
    }
}
