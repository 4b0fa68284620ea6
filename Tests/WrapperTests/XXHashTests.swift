import Testing
import XXHash

@Suite struct XXHashTests {
    // Published XXH3-128 values (seed 0), as printed by `xxhsum -H2`.
    @Test func emptyInput() {
        #expect(XXH128.hash([UInt8]()).hex == "99aa06d3014798d86001c324468d497f")
    }

    @Test func shortText() {
        #expect(XXH128.hash("hello flow\n").hex == "ee93150a3b3aa977429093a3e0f9bb3e")
    }

    @Test func streamingEqualsOneShot() {
        var bytes = [UInt8](repeating: 0, count: 1_000_003)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 2654435761 >> 7) }
        let hasher = XXH128Hasher()
        var offset = 0
        for chunk in [1, 7, 63, 240, 4096, 65_536, 1_000_000] where offset < bytes.count {
            let end = min(bytes.count, offset + chunk)
            bytes[offset..<end].withUnsafeBytes { hasher.update($0) }
            offset = end
        }
        bytes[offset...].withUnsafeBytes { hasher.update($0) }
        #expect(hasher.finalize() == XXH128.hash(bytes))
    }

    @Test func hexRoundTrip() {
        let d = XXH128.hash("x")
        #expect(Digest128(hex: d.hex) == d)
        #expect(Digest128(hex: "zz") == nil)
    }
}
