import Foundation
import Testing
@testable import FlowModels

/// Layers against straightforward Double loops on random data.
@Suite struct LayerTests {
    func random(_ count: Int, _ rng: inout SplitMix64, scale: Float = 1) -> [Float] {
        (0..<count).map { _ in Float(rng.standardNormal()) * scale }
    }

    @Test(arguments: [1, 2]) func linearMatchesLoops(threads: Int) {
        var rng = SplitMix64(seed: 1)
        let l = Linear(inFeatures: 5, outFeatures: 3, weight: random(15, &rng), bias: random(3, &rng))
        let x = random(4 * 5, &rng)
        let y = l.forward(x, rows: 4)
        for r in 0..<4 {
            for o in 0..<3 {
                var s = Double(l.bias[o])
                for i in 0..<5 { s += Double(x[r * 5 + i]) * Double(l.weight[o * 5 + i]) }
                #expect(abs(Double(y[r * 3 + o]) - s) < 1e-5)
            }
        }
    }

    @Test func layerNormMatchesLoops() {
        var rng = SplitMix64(seed: 2)
        var ln = LayerNorm(dim: 6)
        ln.weight = random(6, &rng)
        ln.bias = random(6, &rng)
        let x = random(3 * 6, &rng, scale: 4)
        for threads in [1, 2] {
            let y = ln.forward(x, rows: 3, threads: threads)
            for r in 0..<3 {
                let row = x[(r * 6)..<(r * 6 + 6)].map(Double.init)
                let mu = row.reduce(0, +) / 6
                let v = row.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / 6
                for j in 0..<6 {
                    let want = (row[j] - mu) / (v + 1e-6).squareRoot() * Double(ln.weight[j]) + Double(ln.bias[j])
                    #expect(abs(Double(y[r * 6 + j]) - want) < 1e-5)
                }
            }
        }
    }

    @Test(arguments: [1, 2, 3]) func attentionMatchesLoops(threads: Int) {
        var rng = SplitMix64(seed: 4)
        let d = 6, heads = 2, hd = 3, b = 2, t = 5
        var a = Attention(dim: d, heads: heads)
        a.qkv = Linear(inFeatures: d, outFeatures: 3 * d, weight: random(3 * d * d, &rng), bias: random(3 * d, &rng))
        a.proj = Linear(inFeatures: d, outFeatures: d, weight: random(d * d, &rng), bias: random(d, &rng))
        let x = random(b * t * d, &rng)
        let (y, saved) = a.forward(x, batch: b, tokens: t, threads: threads, keepActivations: true)
        let qkv = a.qkv.forward(x, rows: b * t).map(Double.init)
        var context = [Double](repeating: 0, count: b * t * d)
        for img in 0..<b {
            for h in 0..<heads {
                // Columns of qkv: (3, heads, hd).
                func at(_ which: Int, _ tok: Int, _ j: Int) -> Double { qkv[(img * t + tok) * 3 * d + which * d + h * hd + j] }
                for i in 0..<t {
                    let s = (0..<t).map { k in (0..<hd).map { at(0, i, $0) * at(1, k, $0) }.reduce(0, +) / Double(hd).squareRoot() }
                    let m = s.max()!
                    let e = s.map { Foundation.exp($0 - m) }
                    let z = e.reduce(0, +)
                    for j in 0..<hd {
                        context[(img * t + i) * d + h * hd + j] = (0..<t).map { e[$0] / z * at(2, $0, j) }.reduce(0, +)
                    }
                }
            }
        }
        for r in 0..<(b * t) {
            for o in 0..<d {
                var s = Double(a.proj.bias[o])
                for i in 0..<d { s += context[r * d + i] * Double(a.proj.weight[o * d + i]) }
                #expect(abs(Double(y[r * d + o]) - s) < 1e-4 * max(1, abs(s)))
            }
        }
        #expect(saved?.probabilities.count == b * heads * t * t)
    }

    @Test func patchesAreCutChannelMajorAndRowMajorOverTheGrid() {
        let pe = PatchEmbed(patch: 2, dim: 1)
        // One 3x4x6 image whose value encodes (c, y, x).
        var img: [Float] = []
        for c in 0..<3 { for y in 0..<4 { for x in 0..<6 { img.append(Float(c * 100 + y * 10 + x)) } } }
        let p = pe.patches(img, batch: 1, height: 4, width: 6)
        #expect(p.count == 6 * 12)
        // Patch 4 = grid row 1, column 1: pixels y 2..3, x 2..3.
        #expect(Array(p[(4 * 12)..<(4 * 12 + 4)]) == [22, 23, 32, 33])
        #expect(Array(p[(4 * 12 + 8)..<(4 * 12 + 12)]) == [222, 223, 232, 233])
    }
}
