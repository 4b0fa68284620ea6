import FlowFormats
import Testing
@testable import FlowModels

/// The per-sample scales of drop path, in the reference's two forms.
@Suite struct DropPathTests {
    @Test func subsetFormKeepsExactlyTheReferenceCount() {
        var rng = AugmentRNG(seed: 1)
        for (batch, rate, kept) in [(64, 0.3, 44), (64, 0.4, 38), (8, 0.9, 1), (2, 0.99, 1)] {
            let s = DropPath.scales(batch: batch, rate: rate, rng: &rng)!
            #expect(s.filter { $0 > 0 }.count == kept, "B \(batch) rate \(rate)")
            #expect(s.allSatisfy { $0 == 0 || $0 == Float(batch) / Float(kept) })
        }
        var a = AugmentRNG(seed: 9), b = AugmentRNG(seed: 9)
        #expect(DropPath.scales(batch: 32, rate: 0.3, rng: &a) == DropPath.scales(batch: 32, rate: 0.3, rng: &b))
        #expect(DropPath.scales(batch: 32, rate: 0, rng: &a) == nil)
    }

    @Test func bernoulliFormBelowATenth() {
        var rng = AugmentRNG(seed: 2)
        var kept = 0, total = 0
        for _ in 0..<200 {
            let s = DropPath.scales(batch: 50, rate: 0.1, rng: &rng)!
            #expect(s.allSatisfy { $0 == 0 || abs($0 - 1 / 0.9) < 1e-6 })
            kept += s.filter { $0 > 0 }.count
            total += 50
        }
        // 10,000 draws at p = 0.9: the kept fraction within 4 standard errors (0.012).
        #expect(abs(Double(kept) / Double(total) - 0.9) < 0.012)
    }

    @Test func ratesPerBlock() {
        #expect(DropPath.rates(0.4, depth: 3, uniform: true) == [0.4, 0.4, 0.4])
        #expect(DropPath.rates(0.4, depth: 3, uniform: false) == [0, 0.2, 0.4])
        var rng = AugmentRNG(seed: 3)
        #expect(DropPath.blockScales(batch: 4, rates: [0, 0], rng: &rng) == nil)
        let s = DropPath.blockScales(batch: 4, rates: [0, 0.5], rng: &rng)!
        #expect(s[0].attention == nil && s[1].attention?.filter { $0 > 0 }.count == 2)
    }
}
