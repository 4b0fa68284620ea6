// flow op kmeans: flat or hierarchical k-means over an embedding matrix.
import ArgumentParser
import Foundation
import FlowNumerics

/// `flow op kmeans`: Lloyd k-means (distances through sgemm, k-means++ init, float64 means),
/// flat (--centroids/--assign) or hierarchical with resampling (--levels/--out).
struct KMeansOp: FlowOp {
    static let configuration = CommandConfiguration(
        commandName: "kmeans",
        abstract: "Cluster embeddings with k-means, flat or hierarchical with resampling.",
        discussion: """
        Flat: flow op kmeans --emb E.npy --k 1024 --centroids C.npy --assign A.npy [--log L.json]

        Hierarchical: flow op kmeans --emb E.npy --levels 2 --k 1000,100 [--resample 10,10] --out DIR

        DIR then holds level1/, level2/, ... each with centroids.npy (float32 [k, D]), assign.npy \
        (int64, the cluster of each input of the level), offsets.npy and members.npy (int64 CSR: \
        the members of cluster c, closest first, are members[offsets[c] ..< offsets[c+1]]; the \
        members of a level-t cluster are clusters of level t-1), distances.npy (float32 squared \
        distance of each input to its centroid), and log.json with the inertia of every \
        iteration. See docs/curation.md.
        """)
    /// 2: distances relative to a point near the centroids (assignments change on offset data).
    static let version = 2

    @Option(help: "Embeddings: a 2-D float32 (or float16) .npy [N, D].")
    var emb: String

    @Option(name: .customLong("k"), help: "Clusters: one number, or one per level with --levels (e.g. 1000,500,50,10).")
    var k: String

    @Option(help: "Lloyd iterations per k-means run.")
    var iters: Int = 50

    @Option(name: .customLong("init"), help: "Initialisation: kmeans++ (greedy, 2+ln k trials) or random (k distinct rows).")
    var initialization: KMeansInit = .kmeansPlusPlus

    @Option(help: "Seed of the initialisation (and of the resampling runs).")
    var seed: UInt64 = 0

    @Flag(help: "Spherical k-means: unit-normalise the embeddings and renormalise centroids after each update.")
    var spherical = false

    @Option(help: "Hierarchical: the number of levels (must match the number of values in --k).")
    var levels: Int?

    @Option(help: "Hierarchical: resampling steps after the first clustering, per level (e.g. 10,10,10). Default 0.")
    var resample: String?

    @Option(help: "Hierarchical: points taken closest to each centroid in a resampling step, per level. Default: half the average cluster size.")
    var sampleSize: String?

    @Option(help: "Hierarchical: output directory (level1/, level2/, ..., log.json).")
    var out: String?

    @Option(help: "Flat: output centroids, float32 [k, D].")
    var centroids: String?

    @Option(help: "Flat: output assignment, int64 [N].")
    var assign: String?

    @Option(help: "Flat: output JSON log of the inertia per iteration (default: printed to stdout).")
    var log: String?

    @Option(help: "Threads for BLAS and the assignment loops (default: the step's cpus, FLOW_CPUS, else 1).")
    var threads: Int?

    func validate() throws {
        guard iters >= 0 else { throw ValidationError("--iters must be ≥ 0") }
        if out == nil && levels == nil {
            guard centroids != nil, assign != nil else {
                throw ValidationError("give --centroids and --assign (flat k-means) or --out DIR (hierarchical)")
            }
        } else if out == nil {
            throw ValidationError("hierarchical k-means (--levels) writes into --out DIR")
        }
    }

    func run() throws {
        let start = Date()
        let threadCount = CurationIO.configureThreads(threads)
        let x = try CurationIO.readMatrix(emb, what: "embeddings")
        let loaded = Date()
        let ks = try CurationIO.intList(k, "k")
        let options = KMeansOptions(k: ks[0], iterations: iters, initialization: initialization,
                                    seed: seed, spherical: spherical)
        if let out {
            try runHierarchical(x, ks: ks, options: options, out: out, threads: threadCount)
        } else {
            guard ks.count == 1 else { throw OpError("--k has \(ks.count) values: give --levels \(ks.count) --out DIR for hierarchical k-means") }
            let r = try CurationIO.check(emb) {
                try KMeans.fit(x, options) { it, inertia in Progress.shared.report("iter \(it)/\(iters) inertia \(inertia)") }
            }
            let trained = Date()
            for w in KMeans.warnings(for: r, data: x) { warn(w) }
            try CurationIO.writeMatrix(r.centroids, to: centroids!)
            try CurationIO.writeIndices(r.assignment, to: assign!)
            let doc: [String: Any] = [
                "k": ks[0], "n": x.rows, "d": x.cols, "iterations": iters, "init": initialization.rawValue, "seed": seed,
                "spherical": spherical, "inertia": r.inertiaLog, "final_inertia": r.finalInertia, "reseeded": r.reseeded,
                "empty_clusters": r.emptyClusters.count,
            ]
            if let log { try CurationIO.writeJSON(doc, to: log) } else {
                let data = try JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            }
            FileHandle.standardError.write(Data("kmeans: n=\(x.rows) d=\(x.cols) k=\(ks[0]) iters=\(iters) threads=\(threadCount) final inertia \(r.finalInertia); load \(seconds(start, loaded)), train \(seconds(loaded, trained)), total \(CurationIO.elapsed(start))\n".utf8))
        }
    }

    private func warn(_ message: String) {
        FileHandle.standardError.write(Data("kmeans: warning: \(message)\n".utf8))
    }

    private func seconds(_ a: Date, _ b: Date) -> String { String(format: "%.3f s", b.timeIntervalSince(a)) }

    private func runHierarchical(_ x: Matrix, ks: [Int], options: KMeansOptions, out: String, threads: Int) throws {
        let n = levels ?? ks.count
        guard ks.count == n else { throw OpError("--levels \(n) but --k has \(ks.count) values (\(k)): give one k per level") }
        let resamples = try resample.map { try CurationIO.intList($0, "resample") } ?? [Int](repeating: 0, count: n)
        guard resamples.count == n, resamples.allSatisfy({ $0 >= 0 }) else {
            throw OpError("--resample needs \(n) non-negative values, one per level, got '\(resample ?? "")'")
        }
        let sizes = try sampleSize.map { try CurationIO.intList($0, "sample-size") }
        if let sizes, sizes.count != n || sizes.contains(where: { $0 < 1 }) {
            throw OpError("--sample-size needs \(n) positive values, one per level, got '\(sampleSize ?? "")'")
        }
        let specs = (0..<n).map { KMeansLevel(k: ks[$0], resamples: resamples[$0], sampleSize: sizes?[$0]) }
        let results = try CurationIO.check(emb) {
            try KMeans.hierarchical(x, levels: specs, options: options) { Progress.shared.report($0) }
        }
        try CurationIO.makeDirectory(out)
        var levelDocs = [[String: Any]]()
        var inputs = x.rows
        for (i, r) in results.enumerated() {
            let empty = r.clusters.sizes.filter { $0 == 0 }.count
            for w in KMeans.warnings(emptyClusters: empty, k: specs[i].k, data: i == 0 ? x : results[i - 1].centroids) {
                warn("level \(i + 1): \(w)")
            }
            let dir = (out as NSString).appendingPathComponent("level\(i + 1)")
            try CurationIO.makeDirectory(dir)
            func p(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }
            try CurationIO.writeMatrix(r.centroids, to: p("centroids.npy"))
            try CurationIO.writeIndices(r.assignment, to: p("assign.npy"))
            try CurationIO.writeIndices(r.clusters.offsets, to: p("offsets.npy"))
            try CurationIO.writeIndices(r.clusters.members, to: p("members.npy"))
            try CurationIO.writeScores(r.distances, shape: [r.distances.count], to: p("distances.npy"))
            levelDocs.append([
                "level": i + 1, "k": specs[i].k, "inputs": inputs, "resamples": specs[i].resamples,
                "sample_size": r.sampleSize, "inertia_per_step": r.inertiaLogs, "final_inertia_per_step": r.stepInertias,
                "empty_clusters": empty,
            ])
            inputs = r.centroids.rows
        }
        let doc: [String: Any] = ["n": x.rows, "d": x.cols, "iterations": iters, "init": initialization.rawValue, "seed": seed,
                                  "spherical": spherical, "levels": levelDocs]
        try CurationIO.writeJSON(doc, to: (out as NSString).appendingPathComponent("log.json"))
        Progress.shared.report("kmeans: \(n) levels written to \(out)")
    }
}
