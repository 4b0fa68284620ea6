// flow op retrieve: exact top-k by cosine (blocked over the pool), or cluster-based retrieval.
import ArgumentParser
import Foundation
import FlowNumerics

/// `flow op retrieve`: for each query the k most similar pool rows (sample-based retrieval),
/// or the pool clusters that hold enough queries (cluster-based retrieval, with --clusters).
struct RetrieveOp: FlowOp {
    static let configuration = CommandConfiguration(
        commandName: "retrieve",
        abstract: "Retrieve pool items close to query embeddings (exact top-k by cosine, or by clusters).",
        discussion: """
        Sample-based (default): exact top-k by cosine similarity through sgemm. The pool is read \\
        --block rows at a time from the mapped file, so memory stays bounded for pools larger \\
        than RAM. Writes int64 [Q, k] pool indices (best first; ties to the lower index) and, \\
        with --scores, float32 [Q, k] similarities. With --union, writes instead the sorted set \\
        of retrieved pool indices, int64 [M].

        Cluster-based (--clusters DIR, a level directory written by `flow op kmeans --out`): \\
        each query goes to its nearest pool centroid; every cluster holding more than \\
        --min-queries queries contributes its first --per-cluster members (closest to the \\
        centroid first), most-queried clusters first, up to --cap items. Writes the sorted pool \\
        indices, int64 [M]. See docs/curation.md.
        """)
    /// 2: cosine scores from shifted distances (rankings change on offset data).
    static let version = 2

    @Option(help: "Query embeddings: a 2-D float32 (or float16) .npy [Q, D].")
    var query: String

    @Option(help: "Pool embeddings [N, D] (sample-based), or the embeddings the clusters were built from.")
    var pool: String?

    @Option(name: .customLong("k"), help: "Neighbours per query (sample-based).")
    var k: Int = 4

    @Option(help: "Output: pool indices, int64.")
    var out: String

    @Option(help: "Sample-based: optional output of the similarities, float32 [Q, k].")
    var scores: String?

    @Flag(help: "Sample-based: write the sorted set of retrieved indices instead of [Q, k].")
    var union = false

    @Option(help: "Sample-based: pool rows per block (bounds memory: block × D floats plus a 1024 × block score tile).")
    var block: Int = NearestNeighbors.defaultPoolBlock

    @Option(help: "Cluster-based: a level directory with centroids.npy, offsets.npy and members.npy.")
    var clusters: String?

    @Option(help: "Cluster-based: take clusters holding more than this many queries (DINOv2: 3).")
    var minQueries: Int = 3

    @Option(help: "Cluster-based: items taken per cluster, closest to the centroid first (DINOv2: 10000).")
    var perCluster: Int = 10_000

    @Option(help: "Cluster-based: at most this many items in all (DINOv2: 1000000 per dataset).")
    var cap: Int?

    @Option(help: "Threads for BLAS and the top-k loops (default: the step's cpus, FLOW_CPUS, else 1).")
    var threads: Int?

    func validate() throws {
        guard k >= 1 else { throw ValidationError("--k must be at least 1") }
        guard block >= 1 else { throw ValidationError("--block must be at least 1") }
        if clusters == nil && pool == nil { throw ValidationError("give --pool P.npy (top-k) or --clusters DIR (cluster-based)") }
    }

    func run() throws {
        let start = Date()
        _ = CurationIO.configureThreads(threads)
        let q = try CurationIO.readMatrix(query, what: "query embeddings")
        if let clusters { return try runClusters(q, dir: clusters, start: start) }
        let p = try NPYRowFile(path: pool!, what: "pool embeddings")
        guard p.dimension == q.cols else {
            throw OpError("\(p.path): pool embeddings have dimension \(p.dimension) but the queries (\(query)) have \(q.cols)")
        }
        guard k <= p.rowCount else { throw OpError("\(p.path): --k \(k) is larger than the pool (\(p.rowCount) rows)") }
        let top: TopK
        let searchStart = Date()
        do {
            top = try NearestNeighbors.search(queries: q, pool: p, k: k, poolBlock: block) { done, total in
                Progress.shared.report("pool rows \(done)/\(total)")
            }
        } catch let e as NumericsError {
            throw OpError("\(e.message.hasPrefix("pool") ? p.path : query): \(e.message)")
        }
        let searchSeconds = Date().timeIntervalSince(searchStart)
        if union {
            try CurationIO.writeIndices(Array(Set(top.indices)).sorted(), to: out)
        } else {
            try CurationIO.writeIndices(top.indices, shape: [q.rows, k], to: out)
        }
        if let scores { try CurationIO.writeScores(top.scores, shape: [q.rows, k], to: scores) }
        print("retrieve: \(q.rows) queries against \(p.rowCount) pool rows, top-\(k); search \(String(format: "%.3f s", searchSeconds)), total \(CurationIO.elapsed(start))")
    }

    private func runClusters(_ q: Matrix, dir: String, start: Date) throws {
        func p(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }
        let centroids = try CurationIO.readMatrix(p("centroids.npy"), what: "pool centroids")
        let offsets = try CurationIO.readIndices(p("offsets.npy"), what: "cluster offsets")
        let members = try CurationIO.readIndices(p("members.npy"), what: "cluster members")
        let csr = try CurationIO.check(p("offsets.npy")) { try Clusters(offsets: offsets, members: members) }
        let r = try CurationIO.check(dir) {
            try ClusterRetrieval.select(queries: q, centroids: centroids, clusters: csr, minQueries: minQueries,
                                        perCluster: perCluster, cap: cap)
        }
        try CurationIO.writeIndices(r.indices, to: out)
        print("retrieve: \(q.rows) queries, \(r.clustersTaken.count) of \(csr.count) clusters hold more than \(minQueries); " +
              "took \(r.indices.count) items (\(CurationIO.elapsed(start)))")
    }
}
