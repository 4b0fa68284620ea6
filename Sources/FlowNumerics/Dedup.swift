// Near-duplicate removal by connected components of a k-NN graph (dinov2-spec §1.1).

/// Disjoint sets over 0..<n with path halving and union by size.
public struct UnionFind: Sendable {
    private var parent: [Int]
    private var size: [Int]

    public init(_ n: Int) {
        parent = Array(0..<n)
        size = [Int](repeating: 1, count: n)
    }

    public mutating func find(_ x: Int) -> Int {
        var x = x
        while parent[x] != x {
            parent[x] = parent[parent[x]]
            x = parent[x]
        }
        return x
    }

    public mutating func union(_ a: Int, _ b: Int) {
        var ra = find(a), rb = find(b)
        if ra == rb { return }
        if size[ra] < size[rb] { swap(&ra, &rb) }
        parent[rb] = ra
        size[ra] += size[rb]
    }
}

/// What deduplication decided.
public struct DedupResult: Sendable {
    /// Kept rows, increasing.
    public var keep: [Int]
    /// Component label of every row: the smallest row index in its component.
    public var component: [Int]
    /// Rows dropped as non-first members of a self-duplicate component.
    public var removedAsDuplicates: Int
    /// Rows dropped because their component holds a row too close to the reference set.
    public var removedNearReference: Int
    /// Rows whose own similarity to some reference row exceeds the reference threshold.
    public var nearReference: Int
    /// Pairs (edges) above the threshold found in the k-NN graph.
    public var edges: Int
}

public enum Dedup {
    /// Self-deduplication with optional relative deduplication.
    ///
    /// 1. k-NN graph of `x` by cosine (k includes the row itself); an edge joins i and j when
    ///    their similarity exceeds `threshold`. Connected components by union-find.
    /// 2. When `reference` is given: a row is near the reference when its highest cosine to any
    ///    reference row exceeds `referenceThreshold`; every component containing such a row is
    ///    dropped whole (as in the DINOv2 paper, App. A.3).
    /// 3. From each remaining component, the first row in input order is kept.
    public static func run(_ x: Matrix, threshold: Float, k: Int = 64,
                           reference: RowSource? = nil, referenceThreshold: Float = 0.45,
                           progress: ((String) -> Void)? = nil) throws -> DedupResult {
        try x.validate("embeddings")
        guard k >= 1 else { throw NumericsError("k must be at least 1, got \(k)") }
        let kk = min(k, x.rows)
        let graph = try NearestNeighbors.search(queries: x, pool: x, k: kk) { done, total in
            progress?("knn \(done)/\(total)")
        }
        var sets = UnionFind(x.rows)
        var pairs = Set<Int>()  // unordered pairs min·n + max: i may list j without j listing i
        for i in 0..<x.rows {
            for (j, s) in graph.row(i) where j != i && s > threshold {
                pairs.insert(min(i, j) * x.rows + max(i, j))
                sets.union(i, j)
            }
        }
        let edges = pairs.count
        var component = [Int](repeating: 0, count: x.rows)
        var label = [Int: Int]()
        for i in 0..<x.rows {
            let r = sets.find(i)
            if label[r] == nil { label[r] = i }
            component[i] = label[r]!
        }
        var dropped = Set<Int>()
        var near = 0
        if let reference {
            guard reference.dimension == x.cols else {
                throw NumericsError("embeddings have dimension \(x.cols) but the reference set has dimension \(reference.dimension)")
            }
            let best = try NearestNeighbors.search(queries: x, pool: reference, k: 1) { done, total in
                progress?("reference \(done)/\(total)")
            }
            for i in 0..<x.rows where best.scores[i] > referenceThreshold {
                near += 1
                dropped.insert(component[i])
            }
        }
        var keep = [Int](), removedDup = 0, removedRef = 0
        for i in 0..<x.rows {
            if dropped.contains(component[i]) { removedRef += 1 }
            else if component[i] == i { keep.append(i) }
            else { removedDup += 1 }
        }
        return DedupResult(keep: keep, component: component, removedAsDuplicates: removedDup,
                           removedNearReference: removedRef, nearReference: near, edges: edges)
    }
}
