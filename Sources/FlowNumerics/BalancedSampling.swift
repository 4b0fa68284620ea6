// Balanced sampling down a cluster hierarchy (dinov2-spec §1.2; ssl-data-curation
// src/hierarchical_sampling.py): a common cap per cluster by binary search, level by level.

/// How the last points of an over-full level-1 cluster are chosen.
public enum LeafStrategy: String, Sendable, CaseIterable {
    /// Uniformly at random, without replacement ("r", the reference default).
    case random = "r"
    /// The points closest to the centroid ("c"; clusters are stored closest first).
    case closest = "c"
}

/// The result of balanced sampling.
public struct BalancedSample: Sendable {
    /// Indices of level-1 points (embedding rows); a point appears m times when its cluster is
    /// tiled by the multiplier m. Ordered cluster by cluster, top level first.
    public var indices: [Int]
    /// For each level (index 0 = level 1), each cluster's flat size (leaf points) before sampling.
    public var sizesBefore: [[Int]]
    /// For each level, the points taken from each cluster.
    public var sizesAfter: [[Int]]
}

public enum BalancedSampling {
    /// The largest cap x with Σ min(x, sizes) ≤ target, or max(sizes) when everything fits
    /// (`_find_best_cut_left`).
    public static func cap(_ sizes: [Int], target: Int) -> Int {
        let maxSize = sizes.max() ?? 0
        if sizes.reduce(0, +) <= target { return maxSize }
        var lo = 0, hi = maxSize
        func total(_ x: Int) -> Int { sizes.reduce(0) { $0 + min(x, $1) } }
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            let s = total(mid)
            if s > target { hi = mid } else if s < target { lo = mid } else { return mid }
        }
        return total(hi) <= target ? hi : lo
    }

    /// Splits `target` over clusters of the given sizes (already times the multiplier):
    /// min(cap, size) each, plus 1 for `remainder` clusters larger than the cap, chosen at random.
    public static func split(_ sizes: [Int], target: Int, rng: inout SplitMix64) -> [Int] {
        let x = cap(sizes, target: target)
        if x == (sizes.max() ?? 0) { return sizes }
        var out = sizes.map { min(x, $0) }
        let remainder = target - out.reduce(0, +)
        var candidates = sizes.indices.filter { sizes[$0] > x }
        for i in 0..<remainder {
            let j = i + Int(rng.next() % UInt64(candidates.count - i))
            candidates.swapAt(i, j)
            out[candidates[i]] += 1
        }
        return out
    }

    /// Samples `target` points from a hierarchy. `levels[0]` holds the level-1 clusters (members
    /// are points), `levels[t]` the level-t+1 clusters (members are clusters of level t).
    public static func sample(levels: [Clusters], target: Int, multiplier: Int = 1,
                              strategy: LeafStrategy = .random, seed: UInt64 = 0) throws -> BalancedSample {
        guard !levels.isEmpty else { throw NumericsError("no cluster levels given") }
        guard target >= 0 else { throw NumericsError("target must be ≥ 0, got \(target)") }
        guard multiplier >= 1 else { throw NumericsError("multiplier must be ≥ 1, got \(multiplier)") }
        for t in 1..<levels.count {
            if let bad = levels[t].members.first(where: { $0 >= levels[t - 1].count }) {
                throw NumericsError("level \(t + 1) names cluster \(bad) but level \(t) has only \(levels[t - 1].count) clusters")
            }
        }
        // Flat sizes: level 1 = member counts; level t = sum over children.
        var flat = [levels[0].sizes]
        for t in 1..<levels.count {
            flat.append((0..<levels[t].count).map { c in levels[t].members(of: c).reduce(0) { $0 + flat[t - 1][$1] } })
        }
        var after = flat.map { [Int](repeating: 0, count: $0.count) }
        var rng = SplitMix64(seed: seed)
        var out = [Int]()
        let top = levels.count - 1
        let topTargets = split(flat[top].map { $0 * multiplier }, target: target, rng: &rng)

        func visit(level t: Int, cluster c: Int, target: Int) {
            after[t][c] += target
            if t == 0 {
                let members = levels[0].members(of: c)
                let size = members.count
                if size * multiplier <= target {
                    for _ in 0..<multiplier { out += members }
                    return
                }
                let copies = target / size
                for _ in 0..<copies { out += members }
                let rest = target - copies * size
                switch strategy {
                case .closest: out += members.prefix(rest)
                case .random:
                    var pool = Array(members)
                    for i in 0..<rest {
                        let j = i + Int(rng.next() % UInt64(pool.count - i))
                        pool.swapAt(i, j)
                    }
                    out += pool.prefix(rest)
                }
                return
            }
            let children = Array(levels[t].members(of: c))
            let targets = split(children.map { flat[t - 1][$0] * multiplier }, target: target, rng: &rng)
            for (child, childTarget) in zip(children, targets) { visit(level: t - 1, cluster: child, target: childTarget) }
        }
        for c in 0..<levels[top].count { visit(level: top, cluster: c, target: topTargets[c]) }
        return BalancedSample(indices: out, sizesBefore: flat, sizesAfter: after)
    }
}
