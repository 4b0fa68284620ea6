// Greedy k-means++ initialisation, as in ssl-data-curation's kmeans (and scikit-learn).
import Foundation

extension KMeans {
    /// Greedy k-means++: the first centre is a uniform row; each next centre is the best of
    /// 2 + ⌊ln k⌋ candidates drawn with probability ∝ D² (D = distance to the nearest chosen
    /// centre; drawn by binary search in the cumulative sum), "best" meaning the lowest
    /// potential Σ min(D², d²(x, candidate)). Distances are computed directly as Σ(x − c)²,
    /// not expanded, so a large common offset of the data cannot cancel them.
    public static func kmeansPlusPlus(_ x: Matrix, k: Int, rng: inout SplitMix64) -> Matrix {
        let n = x.rows
        let trials = 2 + Int(log(Double(k)))
        var chosen = [Int]()
        chosen.reserveCapacity(k)
        chosen.append(Int(rng.next() % UInt64(n)))
        var closest = distances(x, to: [chosen[0]])[0]
        var potential = closest.reduce(0.0) { $0 + Double($1) }
        var cumsum = [Double](repeating: 0, count: n)
        while chosen.count < k {
            var acc = 0.0
            for i in 0..<n { acc += Double(closest[i]); cumsum[i] = acc }
            let candidates = (0..<trials).map { _ -> Int in
                let r = rng.unit() * potential
                return min(n - 1, firstIndex(in: cumsum, atLeast: r))
            }
            let cand = distances(x, to: candidates)
            var bestT = 0, bestPot = Double.infinity
            for t in 0..<trials {
                var pot = 0.0
                for i in 0..<n { pot += Double(min(closest[i], cand[t][i])) }
                if pot < bestPot { bestPot = pot; bestT = t }
            }
            for i in 0..<n { closest[i] = min(closest[i], cand[bestT][i]) }
            potential = bestPot
            chosen.append(candidates[bestT])
        }
        return x.rows(chosen)
    }

    /// Squared distances of every row to each row `centres[t]`: result[t][i].
    static func distances(_ x: Matrix, to centres: [Int]) -> [[Float]] {
        let n = x.rows, d = x.cols, t = centres.count
        var flat = [Float](repeating: 0, count: t * n)
        // Points of dimension 0 are all at distance 0.
        if t == 0 || n == 0 || d == 0 { return [[Float]](repeating: [Float](repeating: 0, count: n), count: t) }
        x.data.withUnsafeBufferPointer { xb in
            flat.withUnsafeMutableBufferPointer { fb in
                // Each range of rows reads `x` and writes those rows' entries of `flat`.
                nonisolated(unsafe) let xp = xb.start, fp = fb.start
                Parallel.forRanges(n, minimumPerThread: 1024) { rows in
                    for i in rows {
                        for (c, row) in centres.enumerated() {
                            fp[c * n + i] = squaredDistance(xp + i * d, xp + row * d, count: d)
                        }
                    }
                }
            }
        }
        return (0..<t).map { Array(flat[($0 * n)..<(($0 + 1) * n)]) }
    }

    /// numpy.searchsorted(sorted, value, side="left"): the first index whose element is ≥ value.
    static func firstIndex(in sorted: [Double], atLeast value: Double) -> Int {
        var lo = 0, hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid] < value { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
