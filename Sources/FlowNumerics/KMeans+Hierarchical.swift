// Hierarchical k-means with resampling (dinov2-spec §1.2; Vo et al. 2024).
import Foundation

/// One level of the hierarchy: its k, its resampling steps and their sample size.
public struct KMeansLevel: Sendable {
    public var k: Int
    /// Resampling steps after the first clustering (0 = plain k-means).
    public var resamples: Int
    /// Points taken closest to each centroid for a resampling step; nil = half the average
    /// cluster size (at least 1), as the reference config suggests.
    public var sampleSize: Int?
    public init(k: Int, resamples: Int = 0, sampleSize: Int? = nil) {
        self.k = k
        self.resamples = resamples
        self.sampleSize = sampleSize
    }
}

/// One level's result: `centroids` [k, d], `assignment` of each input of the level (level 1:
/// each embedding; level t: each centroid of level t−1) and its `clusters` in CSR order.
public struct KMeansLevelResult: Sendable {
    public var centroids: Matrix
    public var assignment: [Int]
    public var clusters: Clusters
    /// Squared distance of each input of the level to its centroid.
    public var distances: [Float]
    /// Inertia logs of every k-means run of this level (step 0 first, then each resampling step).
    public var inertiaLogs: [[Double]]
    /// Final inertia of each step's assignment of all level inputs.
    public var stepInertias: [Double]
    public var sampleSize: Int
}

extension KMeans {
    /// Clusters `x`, then each level's centroids with the next level's k.
    ///
    /// Within a level, step 0 is k-means on all inputs. Each resampling step takes the
    /// `sampleSize` inputs closest to each centroid of the previous step, runs a fresh
    /// k-means (same init kind, new seed) on that union, assigns **all** inputs to the new
    /// centroids and re-sorts the clusters. A step whose union holds fewer than k points is
    /// skipped (logged as an empty inertia log). `options.k` is ignored; levels give k.
    public static func hierarchical(_ x: Matrix, levels: [KMeansLevel], options: KMeansOptions,
                                    progress: ((String) -> Void)? = nil) throws -> [KMeansLevelResult] {
        try x.validate("embeddings")
        guard !levels.isEmpty else { throw NumericsError("give at least one level") }
        var input = x
        if options.spherical { try input.normalizeRows() }
        var results = [KMeansLevelResult]()
        var seeds = SplitMix64(seed: options.seed)
        for (li, level) in levels.enumerated() {
            guard level.k >= 1, level.k <= input.rows else {
                throw NumericsError("level \(li + 1): k = \(level.k) but the level has \(input.rows) inputs" +
                                    (li == 0 ? "" : " (the centroids of level \(li))") + "; use 1 ≤ k ≤ \(input.rows)")
            }
            let sampleSize = level.sampleSize ?? max(1, input.rows / (2 * level.k))
            var opts = options
            opts.k = level.k
            opts.seed = seeds.next()
            var run = try fit(input, opts) { it, inertia in progress?("level \(li + 1) step 0 iter \(it) inertia \(inertia)") }
            var logs = [run.inertiaLog + [run.finalInertia]]
            var stepInertias = [run.finalInertia]
            var clusters = Clusters(assignment: run.assignment, distances: run.distances, k: level.k)
            for step in 0..<level.resamples {
                var sample = [Int]()
                for c in 0..<clusters.count { sample += clusters.members(of: c).prefix(sampleSize) }
                sample.sort()
                opts.seed = seeds.next()
                guard sample.count >= level.k else {
                    logs.append([])
                    progress?("level \(li + 1) step \(step + 1) skipped: \(sample.count) sampled points < k")
                    continue
                }
                let sub = try fit(input.rows(sample), opts) { it, inertia in
                    progress?("level \(li + 1) step \(step + 1) iter \(it) inertia \(inertia)")
                }
                let (assignment, distances) = assign(input, centroids: sub.centroids)
                run = KMeansResult(centroids: sub.centroids, assignment: assignment, distances: distances,
                                   inertiaLog: sub.inertiaLog, reseeded: sub.reseeded, finalInertia: sum(distances))
                logs.append(sub.inertiaLog + [sub.finalInertia])
                stepInertias.append(run.finalInertia)
                clusters = Clusters(assignment: assignment, distances: distances, k: level.k)
            }
            results.append(KMeansLevelResult(centroids: run.centroids, assignment: run.assignment, clusters: clusters,
                                             distances: run.distances, inertiaLogs: logs, stepInertias: stepInertias, sampleSize: sampleSize))
            input = run.centroids
        }
        return results
    }
}
