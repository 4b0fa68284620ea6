// Lloyd k-means with distances through sgemm, float64 means and re-seeded empty clusters.
import CKernels
import Foundation

/// How k-means picks its first centroids.
public enum KMeansInit: String, Sendable, CaseIterable {
    /// Greedy k-means++: 2 + ⌊ln k⌋ candidates drawn ∝ D², the one lowering the potential most wins.
    case kmeansPlusPlus = "kmeans++"
    /// k distinct input rows chosen uniformly.
    case random
}

/// Settings of one k-means run.
public struct KMeansOptions: Sendable {
    public var k: Int
    public var iterations: Int
    public var initialization: KMeansInit
    public var seed: UInt64
    /// Unit-normalise the inputs and renormalise centroids after each update (cosine k-means).
    public var spherical: Bool

    public init(k: Int, iterations: Int = 50, initialization: KMeansInit = .kmeansPlusPlus,
                seed: UInt64 = 0, spherical: Bool = false) {
        self.k = k
        self.iterations = iterations
        self.initialization = initialization
        self.seed = seed
        self.spherical = spherical
    }
}

/// The outcome of k-means.
///
/// `assignment` and `distances` come from a final assignment pass against the returned
/// `centroids`, so they are consistent with them. `inertiaLog[i]` is the inertia (sum of
/// squared distances) at the assignment step of iteration i + 1; `finalInertia` is the final
/// pass. In exact arithmetic the sequence `inertiaLog + [finalInertia]` never increases.
public struct KMeansResult: Sendable {
    public var centroids: Matrix
    public var assignment: [Int]
    /// Squared L2 distance of each row to its centroid.
    public var distances: [Float]
    public var inertiaLog: [Double]
    /// Empty clusters re-seeded at each iteration.
    public var reseeded: [Int]
    public var finalInertia: Double
}

/// k-means on the rows of a matrix (vanilla k-means of dinov2-spec §1.2).
public enum KMeans {
    /// Checks the input, initialises and runs Lloyd iterations.
    public static func fit(_ x: Matrix, _ options: KMeansOptions,
                           progress: ((Int, Double) -> Void)? = nil) throws -> KMeansResult {
        try x.validate("embeddings")
        guard options.k >= 1 else { throw NumericsError("k must be at least 1, got \(options.k)") }
        guard options.k <= x.rows else {
            throw NumericsError("k = \(options.k) is larger than the number of points (\(x.rows)); use k ≤ \(x.rows)")
        }
        guard options.iterations >= 0 else { throw NumericsError("iterations must be ≥ 0, got \(options.iterations)") }
        var data = x
        if options.spherical { try data.normalizeRows() }
        var rng = SplitMix64(seed: options.seed)
        let initial: Matrix
        switch options.initialization {
        case .kmeansPlusPlus: initial = kmeansPlusPlus(data, k: options.k, rng: &rng)
        case .random: initial = randomRows(data, k: options.k, rng: &rng)
        }
        return lloyd(data, initial: initial, iterations: options.iterations,
                     spherical: options.spherical, progress: progress)
    }

    /// Lloyd iterations from given centroids: assign, then move each centroid to the float64
    /// mean of its members. An empty cluster is re-seeded with the point farthest from its
    /// centroid (distinct points, farthest first, ties to the lower index).
    public static func lloyd(_ x: Matrix, initial: Matrix, iterations: Int, spherical: Bool = false,
                             progress: ((Int, Double) -> Void)? = nil) -> KMeansResult {
        precondition(initial.cols == x.cols && initial.rows >= 1, "lloyd: centroids \(initial.rows)x\(initial.cols) for \(x.cols)-d points")
        var centroids = initial
        var log = [Double](), reseeded = [Int]()
        for it in 0..<iterations {
            let (assignment, distances) = assign(x, centroids: centroids)
            let inertia = sum(distances)
            #if DEBUG
            if let prev = log.last { assert(inertia <= prev * (1 + 1e-4) + 1e-3, "k-means inertia rose from \(prev) to \(inertia)") }
            #endif
            log.append(inertia)
            reseeded.append(update(&centroids, x, assignment: assignment, distances: distances, spherical: spherical))
            progress?(it + 1, inertia)
        }
        let (assignment, distances) = assign(x, centroids: centroids)
        return KMeansResult(centroids: centroids, assignment: assignment, distances: distances,
                            inertiaLog: log, reseeded: reseeded, finalInertia: sum(distances))
    }

    /// The nearest centroid of every row and the squared distance to it. The nearest is found
    /// by ‖x‖² − 2x·c + ‖c‖² in tiles of rows × k (sgemm, then a vectorised argmin of
    /// ‖c‖² − 2x·c; ties go to the lower centroid index); the reported distance is then
    /// recomputed directly as Σ(x − c)², free of the expansion's cancellation error.
    /// Each worker thread takes a tile of rows at a time and runs its own sgemm and argmin
    /// (`Parallel.forEachPart`), so results do not depend on the thread count.
    public static func assign(_ x: Matrix, centroids: Matrix) -> (assignment: [Int], distances: [Float]) {
        let n = x.rows, k = centroids.rows, d = x.cols
        let cn = centroids.rowSquaredNorms()
        var assignment = [Int](repeating: 0, count: n)
        var distances = [Float](repeating: 0, count: n)
        let chunk = min(assignChunkRows(k: k), n)
        let parts = (n + chunk - 1) / chunk
        let tileSize = chunk * k
        var tiles = [Float](repeating: 0, count: Parallel.workerCount(parts) * tileSize)
        tiles.withUnsafeMutableBufferPointer { tb in
            cn.withUnsafeBufferPointer { c in
              x.data.withUnsafeBufferPointer { xb in
              centroids.data.withUnsafeBufferPointer { mb in
                assignment.withUnsafeMutableBufferPointer { a in
                    distances.withUnsafeMutableBufferPointer { dist in
                        let cp = c.baseAddress!, ap = a.baseAddress!, dp = dist.baseAddress!
                        let xp = xb.baseAddress!, mp = mb.baseAddress!
                        Parallel.forEachPart(parts) { worker, part in
                            let r0 = part * chunk, m = min(chunk, n - r0)
                            let tp = tb.baseAddress! + worker * tileSize
                            // tile[m, k] = −2 · X[r0..<r0+m, d] · Cᵀ[d, k]
                            BLAS.sgemm(.none, .transpose, m: m, n: k, k: d, alpha: -2, a: xp + r0 * d, lda: d,
                                       b: mp, ldb: d, c: tp, ldc: k)
                            for lr in 0..<m {
                                let j = argminPlus(tp + lr * k, cp, count: k)
                                ap[r0 + lr] = j
                                dp[r0 + lr] = squaredDistance(xp + (r0 + lr) * d, mp + j * d, count: d)
                            }
                        }
                    }
                }
              }
              }
            }
        }
        return (assignment, distances)
    }

    /// Σ (a[i] − b[i])² in Float, 16 lanes at a time.
    @inline(__always)
    static func squaredDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD16<Float>(repeating: 0)
        var j = 0
        let ar = UnsafeRawPointer(a), br = UnsafeRawPointer(b)
        while j + 16 <= count {
            let diff = ar.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self)
                     - br.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self)
            acc += diff * diff
            j += 16
        }
        var s = acc.sum()
        while j < count { let diff = a[j] - b[j]; s += diff * diff; j += 1 }
        return s
    }

    /// Rows per assignment tile: about 2 Mi floats (8 MiB) per tile.
    static func assignChunkRows(k: Int) -> Int { max(64, min(16_384, (1 << 21) / max(1, k))) }

    /// argmin over j of row[j] + add[j]; the first minimum wins. In C (`CKernels`), which
    /// picks AVX-512 or AVX2 at run time: this build targets baseline x86-64 so that one binary
    /// runs everywhere, and this loop was 10 % of a k-means pass at its SSE2 width.
    @inline(__always)
    static func argminPlus(_ row: UnsafePointer<Float>, _ add: UnsafePointer<Float>, count: Int) -> Int {
        max(0, flow_argmin_plus(row, add, count))
    }

    /// Moves centroids to the float64 means of their members; re-seeds empty clusters.
    /// Returns the number of re-seeded clusters. Columns are summed in parallel, each column
    /// over all points in input order, so the result does not depend on the thread count.
    static func update(_ centroids: inout Matrix, _ x: Matrix, assignment: [Int], distances: [Float], spherical: Bool) -> Int {
        let k = centroids.rows, d = x.cols, n = x.rows
        var counts = [Int](repeating: 0, count: k)
        for a in assignment { counts[a] += 1 }
        var sums = [Double](repeating: 0, count: k * d)
        x.data.withUnsafeBufferPointer { xp in
            sums.withUnsafeMutableBufferPointer { sp in
                let s = sp.baseAddress!
                Parallel.forRanges(d, minimumPerThread: 8) { cols in
                    for i in 0..<n {
                        let row = xp.baseAddress! + i * d, dst = s + assignment[i] * d
                        for c in cols { dst[c] += Double(row[c]) }
                    }
                }
            }
        }
        let empty = (0..<k).filter { counts[$0] == 0 }
        for c in 0..<k where counts[c] > 0 {
            let inv = 1 / Double(counts[c])
            for j in 0..<d { centroids.data[c * d + j] = Float(sums[c * d + j] * inv) }
        }
        if !empty.isEmpty {
            // The farthest points, farthest first (ties: lower index), one per empty cluster.
            let far = (0..<n).sorted { distances[$0] > distances[$1] || (distances[$0] == distances[$1] && $0 < $1) }
            for (e, c) in empty.enumerated() where e < n {
                for j in 0..<d { centroids.data[c * d + j] = x.data[far[e] * d + j] }
            }
        }
        if spherical {
            for c in 0..<k {
                var s: Float = 0
                for j in 0..<d { s += centroids.data[c * d + j] * centroids.data[c * d + j] }
                if s > 0 { let inv = 1 / s.squareRoot(); for j in 0..<d { centroids.data[c * d + j] *= inv } }
            }
        }
        return empty.count
    }

    /// k distinct rows chosen uniformly (partial Fisher–Yates).
    static func randomRows(_ x: Matrix, k: Int, rng: inout SplitMix64) -> Matrix {
        var perm = Array(0..<x.rows)
        for i in 0..<k {
            let j = i + Int(rng.next() % UInt64(x.rows - i))
            perm.swapAt(i, j)
        }
        return x.rows(Array(perm[0..<k]))
    }
}
