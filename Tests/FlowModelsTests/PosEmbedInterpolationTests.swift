import Testing
@testable import FlowModels

@Suite struct PosEmbedInterpolationTests {
    @Test func sameSizeBySizeIsIdentity() {
        let grid = (0..<(5 * 5 * 2)).map { Float($0 % 7) - 3 }
        let out = PosEmbedInterpolation.resize(grid, inHeight: 5, inWidth: 5, dim: 2, outHeight: 5, outWidth: 5,
                                               offset: 0, antialias: false)
        #expect(out == grid)
    }

    /// Cubic weights sum to one, so a constant grid stays constant at any scale.
    @Test func constantGridStaysConstant() {
        let grid = [Float](repeating: 0.25, count: 6 * 6)
        let r = PosEmbedInterpolation.resize(grid, inHeight: 6, inWidth: 6, dim: 1, outHeight: 11, outWidth: 4,
                                             offset: 0.1, antialias: false)
        #expect(r.count == 44)
        #expect(r.allSatisfy { abs($0 - 0.25) < 1e-6 })
    }

    /// Halving by size puts every output half-way between two inputs (t = 0.5), where the
    /// A = -0.75 kernel's taps are -0.09375, 0.59375, 0.59375, -0.09375 (edges clamped).
    @Test func halvingUsesTheClosedFormTaps() {
        let row: [Float] = [1, 4, -2, 8, 3, 0, 5, 7]
        let r = PosEmbedInterpolation.resize(row, inHeight: 1, inWidth: 8, dim: 1, outHeight: 1, outWidth: 4,
                                             offset: 0, antialias: false)
        for i in 0..<4 {
            func g(_ j: Int) -> Float { row[min(max(j, 0), 7)] }
            let want = -0.09375 * g(2 * i - 1) + 0.59375 * g(2 * i) + 0.59375 * g(2 * i + 1) - 0.09375 * g(2 * i + 2)
            #expect(abs(r[i] - want) < 1e-5, "output \(i)")
        }
    }

    @Test func cubicTapsAtIntegerPositions() {
        // Same size: every output sits on an input, weight 1 there and 0 on the other taps.
        for taps in PosEmbedInterpolation.cubicWeights(4, 4, nil).enumerated() {
            let total = taps.element.filter { $0.0 == taps.offset }.reduce(Float(0)) { $0 + $1.1 }
            #expect(abs(total - 1) < 1e-6)
        }
    }

    @Test func antialiasWeightsAreNormalisedAndWidenWhenShrinking() {
        let shrink = PosEmbedInterpolation.antialiasWeights(37, 16, nil)
        for taps in shrink { #expect(abs(taps.reduce(Float(0)) { $0 + $1.1 } - 1) < 1e-5) }
        #expect(shrink[8].count > 4)
        let grow = PosEmbedInterpolation.antialiasWeights(16, 37, nil)
        #expect(grow.allSatisfy { $0.count <= 4 })
    }
}
