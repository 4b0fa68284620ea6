import Foundation
import Testing
@testable import FlowModels

@Suite struct FastMathTests {
    @Test func expMatchesLibmToAFewUlps() {
        var worst: Double = 0
        var x: Float = -87
        while x <= 88 {
            let want = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(FastMath.exp(x)) - want) / want)
            x += 0.0137
        }
        #expect(worst < 3e-7, "worst relative error \(worst)")
        #expect(FastMath.exp(0) == 1)
        #expect(FastMath.exp(-1000) < 1e-37)
    }

    @Test func erfMatchesLibm() {
        var worst: Double = 0
        var x: Float = -6
        while x <= 6 {
            worst = max(worst, abs(Double(FastMath.erf(x)) - Foundation.erf(Double(x))))
            x += 0.001
        }
        #expect(worst < 1e-6, "worst absolute error \(worst)")
    }

    @Test func geluIsExactErfGelu() {
        for x: Float in [-5, -1.5, -0.3, 0, 0.2, 1, 3.7, 9] {
            let want = 0.5 * Double(x) * (1 + Foundation.erf(Double(x) / 2.0.squareRoot()))
            #expect(abs(Double(FastMath.gelu(x)) - want) <= 1e-6 * max(1, abs(want)), "gelu(\(x))")
        }
    }

    @Test func softmaxRowsSumToOneAndMatchDouble() {
        var rng = SplitMix64(seed: 3)
        // 37 columns: nine groups of four and a tail.
        let c = 37
        var values = (0..<3 * c).map { _ in Float(rng.unit() * 20 - 10) }
        let original = values
        values.withUnsafeMutableBufferPointer { FastMath.softmaxRows($0.baseAddress!, rows: 3, cols: c) }
        for r in 0..<3 {
            let row = original[(r * c)..<(r * c + c)].map(Double.init)
            let m = row.max()!
            let e = row.map { Foundation.exp($0 - m) }
            let s = e.reduce(0, +)
            for j in 0..<c { #expect(abs(Double(values[r * c + j]) - e[j] / s) < 1e-6) }
        }
    }
}
