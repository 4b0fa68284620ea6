import Testing
import LZ4

@Suite struct LZ4Tests {
    @Test func roundTripCompressible() throws {
        let text = Array(String(repeating: "step embed[i in 0..<8]\n", count: 5_000).utf8)
        let packed = try LZ4Frame.compress(text)
        #expect(Array(packed.prefix(4)) == LZ4Frame.magic)
        #expect(packed.count < text.count / 5)
        #expect(try LZ4Frame.decompress(packed) == text)
    }

    @Test func roundTripEmpty() throws {
        #expect(try LZ4Frame.decompress(try LZ4Frame.compress([UInt8]())) == [])
    }

    /// No bytes hold no frame: an error, whether whole or fed to a context in empty pieces.
    @Test func emptyInputIsTruncated() throws {
        #expect(throws: LZ4Error.self) { try LZ4Frame.decompress([UInt8]()) }
        let context = try DecompressionContext()
        var pieces = 0
        #expect(throws: LZ4Error.self) { try context.decompress(UnsafeRawBufferPointer(start: nil, count: 0)) { _ in pieces += 1 } }
        #expect(pieces == 0)
    }

    @Test func corruptFrameThrows() throws {
        var packed = try LZ4Frame.compress(Array(repeating: UInt8(7), count: 100_000))
        packed[packed.count / 2] ^= 0xff
        packed[packed.count - 2] ^= 0xff
        #expect(throws: LZ4Error.self) { try LZ4Frame.decompress(packed) }
    }

    @Test func truncatedFrameThrows() throws {
        let packed = try LZ4Frame.compress(Array(repeating: UInt8(7), count: 100_000))
        #expect(throws: LZ4Error.self) { try LZ4Frame.decompress(Array(packed.dropLast(3))) }
    }
}
