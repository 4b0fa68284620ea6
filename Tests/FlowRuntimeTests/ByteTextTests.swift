@testable import FlowRuntime
import Testing
import XXHash

/// Records written as bytes must read exactly as the string-built ones did.
@Suite struct ByteTextTests {
    @Test func integersAreWrittenAsDescriptionWritesThem() {
        let unsigned: [UInt64] = [0, 1, 9, 10, 99, 100, 4_294_967_296, UInt64.max, UInt64.max - 1]
        let signed: [Int64] = [0, -1, 7, -10, 1_765_100_000_123_456_789, Int64.max, Int64.min, Int64.min + 1]
        for n in unsigned {
            var t = ByteText()
            t.append(n)
            #expect(String(decoding: t.bytes, as: UTF8.self) == String(n))
        }
        for n in signed {
            var t = ByteText()
            t.append(n)
            #expect(String(decoding: t.bytes, as: UTF8.self) == String(n))
        }
    }

    /// "\r\n" is one Character: a check by Characters for "\r" or "\n" missed it, and a field
    /// holding it was written unescaped, breaking its record across two lines.
    @Test func aCarriageReturnAndNewlineTogetherAreEscaped() {
        #expect(TextRecord.escape("a\r\nb") == "a%0D%0Ab")
        #expect(Array(TextRecord.escape("a\r\nb").utf8).withUnsafeBufferPointer { TextRecord.unescape($0) } == "a\r\nb")
    }

    @Test func digestsAndEscapedFieldsMatchTheirStringForms() {
        for d in [Digest128(high: 0, low: 0), Digest128(high: .max, low: 1), XXH128.hash("flow"), XXH128.hash("")] {
            var t = ByteText()
            t.append(hex: d)
            #expect(String(decoding: t.bytes, as: UTF8.self) == d.hex)
        }
        for field in ["plain/path", "", "100%", "a\tb", "line\nbreak", "cr\r", "ünïcode %25 literal", "%"] {
            var t = ByteText()
            t.append(escaped: field)
            #expect(String(decoding: t.bytes, as: UTF8.self) == TextRecord.escape(field))
        }
    }
}
