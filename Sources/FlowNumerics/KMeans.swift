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
    /// Clusters with no member in the final assignment, increasing. Non-empty when the data
    /// has fewer distinct points than k, or when re-seeding could not keep a cluster alive.
    public var emptyClusters: [Int] {
        var counts = [Int](repeating: 0, count: centroids.rows)
        for a in assignment { counts[a] += 1 }
        return counts.indices.filter { counts[$0] == 0 }
    }
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
    /// ‖c‖² − 2x·c; ties go to the lower centroid index), with x and c taken relative to a
    /// point near the centroids (`shift(for:)`): on data whose spread is tiny against its norm
    /// (a large common offset) the uncentred expansion cancels every digit of the distances,
    /// while the shifted values are exact (x − m of nearby floats is exact) and small. The reported
    /// distance is then recomputed directly as Σ(x − c)².
    /// Each worker thread takes a tile of rows at a time, shifts it into its own buffer and
    /// runs its own sgemm and argmin (`Parallel.forEachPart`), so results do not depend on the
    /// thread count.
    ///
    /// No rows give empty results; rows of dimension 0 are all at distance 0 from centroid 0.
    /// There must be at least one centroid, of the rows' dimension.
    public static func assign(_ x: Matrix, centroids: Matrix) -> (assignment: [Int], distances: [Float]) {
        let n = x.rows, k = centroids.rows, d = x.cols
        precondition(k >= 1 && centroids.cols == d, "assign: centroids \(k)x\(centroids.cols) for \(d)-d points")
        if n == 0 { return ([], []) }
        if d == 0 { return ([Int](repeating: 0, count: n), [Float](repeating: 0, count: n)) }
        let centre = shift(for: centroids)
        var shifted = centroids
        for c in 0..<k { for j in 0..<d { shifted.data[c * d + j] -= centre[j] } }
        let cn = shifted.rowSquaredNorms()
        var assignment = [Int](repeating: 0, count: n)
        var distances = [Float](repeating: 0, count: n)
        let chunk = min(assignChunkRows(k: k, d: d), n)
        let parts = (n + chunk - 1) / chunk
        let workers = Parallel.workerCount(parts)
        let tileSize = chunk * k, rowsSize = chunk * d
        var tiles = [Float](repeating: 0, count: workers * tileSize)
        var rowBuffers = [Float](repeating: 0, count: workers * rowsSize)
        tiles.withUnsafeMutableBufferPointer { tb in
          rowBuffers.withUnsafeMutableBufferPointer { rb in
            cn.withUnsafeBufferPointer { c in
              x.data.withUnsafeBufferPointer { xb in
              centroids.data.withUnsafeBufferPointer { mb in
              shifted.data.withUnsafeBufferPointer { sb in
                assignment.withUnsafeMutableBufferPointer { a in
                    distances.withUnsafeMutableBufferPointer { dist in
                        // Parts read the inputs, write their own rows of `ap` and `dp`, and use the
                        // scratch tile and rows of the worker running them (one part at a time).
                        nonisolated(unsafe) let cp = c.start, ap = a.start, dp = dist.start
                        nonisolated(unsafe) let xp = xb.start, mp = mb.start, sp = sb.start
                        nonisolated(unsafe) let tiles = tb.start, rows = rb.start
                        Parallel.forEachPart(parts) { worker, part in
                            let r0 = part * chunk, m = min(chunk, n - r0)
                            let tp = tiles + worker * tileSize
                            let rp = rows + worker * rowsSize
                            for r in 0..<m {
                                let src = xp + (r0 + r) * d, dst = rp + r * d
                                for j in 0..<d { dst[j] = src[j] - centre[j] }
                            }
                            // tile[m, k] = −2 · (X[r0..<r0+m, d] − centre) · (C − centre)ᵀ[d, k]
                            BLAS.sgemm(.none, .transpose, m: m, n: k, k: d, alpha: -2, a: rp, lda: d,
                                       b: sp, ldb: d, c: tp, ldc: k)
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
          }
        }
        return (assignment, distances)
    }

    /// The point `assign` subtracts from rows and centroids: the centroids' mean, rounded to a
    /// multiple of the power of two g ≤ their largest deviation from it. Rounding costs at most
    /// g/2 of extra magnitude, and keeps data on a coarse grid (small integers) on it, so their
    /// distances, and ties between them, stay exact.
    static func shift(for centroids: Matrix) -> [Float] {
        let mean = centroids.columnMeans(), d = centroids.cols
        var spread = 0.0
        for (i, v) in centroids.data.enumerated() { spread = max(spread, abs(Double(v) - mean[i % d])) }
        guard spread > 0 else { return centroids.row(0) }
        let g = pow(2, (log2(spread)).rounded(.down))
        return mean.map { Float(($0 / g).rounded() * g) }
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

    /// Rows per assignment tile: about 2 Mi floats (8 MiB) per score tile and per shifted rows.
    static func assignChunkRows(k: Int, d: Int) -> Int { max(64, min(16_384, (1 << 21) / max(1, k, d))) }

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
        if n > 0 && d > 0 {
            x.data.withUnsafeBufferPointer { xp in
                sums.withUnsafeMutableBufferPointer { sp in
                    // Each range of columns reads those columns of `xs` and writes those of `s`.
                    nonisolated(unsafe) let xs = xp.start, s = sp.start
                    Parallel.forRanges(d, minimumPerThread: 8) { cols in
                        for i in 0..<n {
                            let row = xs + i * d, dst = s + assignment[i] * d
                            for c in cols { dst[c] += Double(row[c]) }
                        }
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

    /// The number of distinct rows of `x` (bit for bit, −0 = +0); counting stops at `limit`.
    public static func distinctRowCount(_ x: Matrix, upTo limit: Int) -> Int {
        var seen = Set<[UInt32]>()
        for r in 0..<x.rows where seen.count < limit {
            seen.insert((0..<x.cols).map { let v = x.data[r * x.cols + $0]; return v == 0 ? 0 : v.bitPattern })
        }
        return seen.count
    }

    /// What a caller should tell the user about a result on `data`: clusters that ended empty
    /// and, if so, whether the data has fewer distinct points than k. Empty when all is well.
    public static func warnings(for result: KMeansResult, data: Matrix) -> [String] {
        warnings(emptyClusters: result.emptyClusters.count, k: result.centroids.rows, data: data)
    }

    /// The same from a count of empty clusters (a hierarchical level).
    public static func warnings(emptyClusters empty: Int, k: Int, data: Matrix) -> [String] {
        guard empty > 0 else { return [] }
        var out = ["\(empty) of \(k) clusters ended empty"]
        let distinct = distinctRowCount(data, upTo: k)
        if distinct < k { out.append("the data has only \(distinct) distinct points, fewer than k = \(k)") }
        return out
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
