import Testing
import FlowTestSupport
@testable import FlowFormats

@Suite struct HalfTests {
    #if !(os(macOS) && arch(x86_64))
    /// Every one of the 65,536 half bit patterns widens exactly as Swift's Float16 does.
    @Test func everyHalfWidensExactly() {
        for b in 0...UInt16.max {
            let mine = Half.float(fromBits: b), reference = Float(Float16(bitPattern: b))
            if reference.isNaN {
                #expect(mine.isNaN)
            } else if mine.bitPattern != reference.bitPattern {
                Issue.record("half \(b): \(mine) != \(reference)")
                return
            }
        }
    }

    /// Narrowing agrees with Float16(Float) (round to nearest even) on random and boundary floats.
    @Test func narrowingMatchesFloat16() {
        var g = SeededGenerator(seed: 1)
        var inputs: [Float] = [0, -0, 1, 65504, 65519.99, 65520, 1e-8, 2.98e-8, 5.96e-8, 6.1e-5, 6.103515625e-05,
                               .infinity, -.infinity, .greatestFiniteMagnitude, .leastNonzeroMagnitude]
        for _ in 0..<100_000 { inputs.append(Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &g))) }
        // Midpoints between neighbouring halves, where ties-to-even matters.
        for b in stride(from: UInt16(0), to: 0x7BFF, by: 97) {
            let lo = Half.float(fromBits: b), hi = Half.float(fromBits: b + 1)
            inputs.append((lo + hi) / 2)
        }
        for x in inputs {
            let mine = Half.bits(from: x), reference = Float16(x).bitPattern
            if x.isNaN {
                #expect(Half.float(fromBits: mine).isNaN)
            } else if mine != reference {
                Issue.record("\(x): \(mine) != \(reference)")
                return
            }
        }
    }
    #endif

    /// bfloat16 narrowing against a brute-force nearest-value search.
    @Test func bfloat16RoundsToNearestEven() {
        var g = SeededGenerator(seed: 2)
        for _ in 0..<50_000 {
            let x = Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &g))
            let b = BFloat16.bits(from: x)
            if x.isNaN { #expect(BFloat16.float(fromBits: b).isNaN); continue }
            let down = UInt16(x.bitPattern >> 16)
            let candidates = [down, down &+ 1].filter { !BFloat16.float(fromBits: $0).isNaN }
            let best = candidates.min { a, c in
                let da = abs(Double(BFloat16.float(fromBits: a)) - Double(x))
                let dc = abs(Double(BFloat16.float(fromBits: c)) - Double(x))
                return da != dc ? da < dc : a & 1 == 0
            }!
            // Above the largest finite bfloat16 the nearest is infinity, which the search cannot see.
            if abs(x) > 3.3961e38 { continue }
            #expect(b == best, "\(x)")
        }
        #expect(BFloat16.bits(from: 1) == 0x3F80)
        #expect(BFloat16.float(fromBits: 0xC040) == -3)
    }

    @Test func littleEndianBulkConversions() {
        let values: [Float] = [1, -2, 0.5]
        let bytes = Half.littleEndianBytes(values)
        #expect(bytes == [0x00, 0x3C, 0x00, 0xC0, 0x00, 0x38])
        #expect(bytes.withUnsafeBytes { Half.floats(fromLittleEndian: $0) } == values)
        let bf = BFloat16.littleEndianBytes(values)
        #expect(bf.withUnsafeBytes { BFloat16.floats(fromLittleEndian: $0) } == values)
    }
}
