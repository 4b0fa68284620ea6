// Greedy k-means++ initialisation, as in ssl-data-curation's kmeans (and scikit-learn).
import Foundation

extension KMeans {
    /// Greedy k-means++: the first centre is a uniform row; each next centre is the best of
    /// 2 + ⌊ln k⌋ candidates drawn with probability ∝ D² (D = distance to the nearest chosen
    /// centre; drawn by binary search in the cumulative sum), "best" meaning the lowest
    /// potential Σ min(D², d²(x, candidate)). Distances go through sgemm.
    public static func kmeansPlusPlus(_ x: Matrix, k: Int, rng: inout SplitMix64) -> Matrix {
        let n = x.rows
        let trials = 2 + Int(log(Double(k)))
        let xn = x.rowSquaredNorms()
        var chosen = [Int]()
        chosen.reserveCapacity(k)
        chosen.append(Int(rng.next() % UInt64(n)))
        var closest = distances(x, xn, to: [chosen[0]])[0]
        var potential = closest.reduce(0.0) { $0 + Double($1) }
        var cumsum = [Double](repeating: 0, count: n)
        while chosen.count < k {
            var acc = 0.0
            for i in 0..<n { acc += Double(closest[i]); cumsum[i] = acc }
            let candidates = (0..<trials).map { _ -> Int in
                let r = rng.unit() * potential
                return min(n - 1, firstIndex(in: cumsum, atLeast: r))
            }
            let cand = distances(x, xn, to: candidates)
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
    static func distances(_ x: Matrix, _ xn: [Float], to centres: [Int]) -> [[Float]] {
        let c = x.rows(centres)
        let cn = c.rowSquaredNorms()
        let g = matmul(x, c, .none, .transpose)          // [n, t]
        return (0..<centres.count).map { t in
            (0..<x.rows).map { i in max(0, xn[i] - 2 * g.data[i * centres.count + t] + cn[t]) }
        }
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
