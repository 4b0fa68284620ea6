// Cluster-based retrieval (DINOv2 App. A.4): take pool images from the clusters that hold
// enough query images.

/// What cluster-based retrieval chose.
public struct ClusterRetrievalResult: Sendable {
    /// Pool rows taken, increasing, without repeats.
    public var indices: [Int]
    /// Query count of every pool cluster.
    public var queriesPerCluster: [Int]
    /// Clusters taken, in the order they were taken (most queries first, ties to lower index).
    public var clustersTaken: [Int]
}

public enum ClusterRetrieval {
    /// Assigns each query to its nearest pool centroid (squared L2, like k-means). Every
    /// cluster holding more than `minQueries` queries contributes up to `perCluster` of its
    /// members, closest to the centroid first; clusters are taken most-queries first until
    /// `cap` pool rows are reached (the last cluster is cut to fit).
    public static func select(queries: Matrix, centroids: Matrix, clusters: Clusters,
                              minQueries: Int = 3, perCluster: Int = 10_000, cap: Int? = nil) throws -> ClusterRetrievalResult {
        try queries.validate("queries")
        try centroids.validate("centroids")
        guard queries.cols == centroids.cols else {
            throw NumericsError("queries have dimension \(queries.cols) but the centroids have dimension \(centroids.cols)")
        }
        guard clusters.count == centroids.rows else {
            throw NumericsError("\(centroids.rows) centroids but \(clusters.count) clusters in offsets")
        }
        let (assignment, _) = KMeans.assign(queries, centroids: centroids)
        var counts = [Int](repeating: 0, count: centroids.rows)
        for a in assignment { counts[a] += 1 }
        let order = counts.indices.filter { counts[$0] > minQueries }
            .sorted { counts[$0] > counts[$1] || (counts[$0] == counts[$1] && $0 < $1) }
        var chosen = Set<Int>(), taken = [Int]()
        let limit = cap ?? Int.max
        for c in order where chosen.count < limit {
            taken.append(c)
            for m in clusters.members(of: c).prefix(perCluster) where chosen.count < limit { chosen.insert(m) }
        }
        return ClusterRetrievalResult(indices: chosen.sorted(), queriesPerCluster: counts, clustersTaken: taken)
    }
}
