import Testing
import Foundation
import FlowNumerics
import FlowTestSupport

/// Points around `centres` (spread `sigma`), `perBlob` each, blob b's points at rows b*perBlob...
func blobs(_ centres: [[Float]], perBlob: Int, sigma: Float, seed: UInt64) -> Matrix {
    var rng = SeededGenerator(seed: seed)
    var rows = [[Float]]()
    for c in centres {
        for _ in 0..<perBlob {
            rows.append(c.map { $0 + sigma * gaussian(&rng) })
        }
    }
    return try! Matrix(rows)
}

func gaussian(_ rng: inout SeededGenerator) -> Float {
    let u = Double.random(in: Double.ulpOfOne..<1, using: &rng), v = Double.random(in: 0..<1, using: &rng)
    return Float((-2 * log(u)).squareRoot() * cos(2 * .pi * v))
}

@Suite(.serialized) struct KMeansTests {
    @Test(arguments: [KMeansInit.kmeansPlusPlus, .random], [UInt64(1), 2, 3])
    func recoversPlantedBlobs(initialization: KMeansInit, seed: UInt64) throws {
        // 6 well separated blobs in 8-d; every blob must map to exactly one cluster.
        var rng = SeededGenerator(seed: 100 + seed)
        let centres = (0..<6).map { _ in (0..<8).map { _ in Float.random(in: -20...20, using: &rng) } }
        let x = blobs(centres, perBlob: 40, sigma: 0.3, seed: seed)
        let r = try KMeans.fit(x, KMeansOptions(k: 6, iterations: 20, initialization: initialization, seed: seed))
        var blobOf = [Int: Int]()
        for b in 0..<6 {
            let labels = Set(r.assignment[(b * 40)..<(b * 40 + 40)])
            if initialization == .kmeansPlusPlus {
                #expect(labels.count == 1, "blob \(b) split over \(labels)")
            }
            if labels.count == 1 { blobOf[b] = labels.first! }
        }
        if initialization == .kmeansPlusPlus {
            #expect(Set(blobOf.values).count == 6)
            // Centroids sit on the planted centres (mean of 40 points with sigma 0.3).
            for b in 0..<6 {
                let c = r.centroids.row(blobOf[b]!)
                let err = zip(c, centres[b]).map { abs($0 - $1) }.max()!
                #expect(err < 0.3)
            }
        }
    }

    @Test(arguments: [UInt64(4), 5, 6, 7])
    func inertiaNeverIncreases(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        var x = Matrix(rows: 300, cols: 5)
        for i in x.data.indices { x.data[i] = gaussian(&rng) }
        let r = try KMeans.fit(x, KMeansOptions(k: 17, iterations: 15, initialization: .random, seed: seed))
        let seq = r.inertiaLog + [r.finalInertia]
        for (a, b) in zip(seq, seq.dropFirst()) { #expect(b <= a * (1 + 1e-6)) }
        #expect(seq.first! > seq.last!)
        // Every point is assigned to its truly nearest centroid (brute force).
        for i in 0..<x.rows {
            let d = (0..<17).map { c in zip(x.row(i), r.centroids.row(c)).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } }
            #expect(d[r.assignment[i]] <= d.min()! + 1e-4)
            #expect(abs(d[r.assignment[i]] - r.distances[i]) < 1e-3)
        }
    }

    @Test func equalsPlainReferenceForSameInit() throws {
        var rng = SeededGenerator(seed: 9)
        var x = Matrix(rows: 200, cols: 6)
        for i in x.data.indices { x.data[i] = gaussian(&rng) }
        let initial = x.rows([3, 50, 77, 120, 199])
        let r = KMeans.lloyd(x, initial: initial, iterations: 10)
        let ref = plainLloyd(x, initial: initial, iterations: 10)
        #expect(r.assignment == ref.assignment)
        for i in r.centroids.data.indices { #expect(abs(Double(r.centroids.data[i]) - ref.centroids[i]) < 1e-4) }
    }

    @Test func kmeansPlusPlusIsSeededAndPicksDistinctBlobs() throws {
        let x = blobs([[0, 0], [100, 0], [0, 100], [100, 100]], perBlob: 25, sigma: 1, seed: 3)
        var a = SplitMix64(seed: 42), b = SplitMix64(seed: 42)
        let c1 = KMeans.kmeansPlusPlus(x, k: 4, rng: &a), c2 = KMeans.kmeansPlusPlus(x, k: 4, rng: &b)
        #expect(c1 == c2)
        var quadrants = Set<Int>()
        for i in 0..<4 {
            let right = c1[i, 0] > 50 ? 2 : 0, top = c1[i, 1] > 50 ? 1 : 0
            quadrants.insert(right + top)
        }
        #expect(quadrants.count == 4)
    }

    @Test func emptyClusterIsReseeded() throws {
        // Two centroids start on the same point; one cluster is empty after the first assignment.
        let x = try Matrix([[0], [0.1], [10], [10.1], [20]])
        let r = KMeans.lloyd(x, initial: try Matrix([[0], [0], [10]]), iterations: 3)
        #expect(r.reseeded[0] == 1)
        #expect(Set(r.assignment).count == 3)
    }

    /// Small integer coordinates make every distance exact in Float, so the nearest centroid,
    /// ties (first index wins) included, can be checked exactly against brute force. Centroid
    /// counts around the argmin's 64-wide blocks; k = 1000 with 2,500 rows spans two tiles.
    @Test(arguments: [(1, 300), (5, 300), (63, 300), (64, 300), (65, 300), (130, 300), (1000, 2500)])
    func assignmentIsTheExactNearestWithTiesToTheLowerIndex(k: Int, n: Int) throws {
        var rng = SeededGenerator(seed: UInt64(k))
        func integers(_ rows: Int) -> Matrix {
            var m = Matrix(rows: rows, cols: 3)
            for i in m.data.indices { m.data[i] = Float(Int.random(in: -3...3, using: &rng)) }
            return m
        }
        let x = integers(n), c = integers(k)
        defer { Numerics.setThreads(1) }
        for threads in [1, 2] {
            Numerics.setThreads(threads)
            let (assignment, distances) = KMeans.assign(x, centroids: c)
            for i in 0..<n {
                var best = Float.infinity, bestJ = -1
                for j in 0..<k {
                    var s: Float = 0
                    for t in 0..<3 { let e = x[i, t] - c[j, t]; s += e * e }
                    if s < best { best = s; bestJ = j }
                }
                #expect(assignment[i] == bestJ, "row \(i), \(threads) threads")
                #expect(distances[i] == best, "row \(i), \(threads) threads")
                if assignment[i] != bestJ { return }
            }
        }
    }

    @Test func resultsDoNotDependOnTheThreadCount() throws {
        var rng = SeededGenerator(seed: 31)
        var x = Matrix(rows: 3000, cols: 24)
        for i in x.data.indices { x.data[i] = gaussian(&rng) }
        Numerics.setThreads(1)
        let one = try KMeans.fit(x, KMeansOptions(k: 40, iterations: 4, seed: 2))
        Numerics.setThreads(2)
        let two = try KMeans.fit(x, KMeansOptions(k: 40, iterations: 4, seed: 2))
        Numerics.setThreads(1)
        #expect(one.centroids == two.centroids)
        #expect(one.assignment == two.assignment)
        #expect(one.inertiaLog == two.inertiaLog)
    }

    @Test func badInputsAreClearErrors() throws {
        let ok = try Matrix([[1, 2], [3, 4], [5, 6]])
        #expect(throws: NumericsError("k = 4 is larger than the number of points (3); use k ≤ 3")) {
            try KMeans.fit(ok, KMeansOptions(k: 4))
        }
        var nan = ok
        nan[1, 1] = .nan
        #expect(throws: NumericsError("embeddings row 1 contains NaN or infinity: fix or drop that row")) {
            try KMeans.fit(nan, KMeansOptions(k: 2))
        }
        #expect(throws: NumericsError("embeddings has no rows: nothing to process")) {
            try KMeans.fit(Matrix(rows: 0, cols: 4), KMeansOptions(k: 1))
        }
    }
}

/// Textbook Lloyd in Double with plain loops: the independent reference.
func plainLloyd(_ x: Matrix, initial: Matrix, iterations: Int) -> (centroids: [Double], assignment: [Int]) {
    let n = x.rows, d = x.cols, k = initial.rows
    var c = initial.data.map(Double.init)
    var assign = [Int](repeating: 0, count: n)
    func nearest() {
        for i in 0..<n {
            var best = Double.infinity
            for j in 0..<k {
                var s = 0.0
                for t in 0..<d { let diff = Double(x.data[i * d + t]) - c[j * d + t]; s += diff * diff }
                if s < best { best = s; assign[i] = j }
            }
        }
    }
    for _ in 0..<iterations {
        nearest()
        var sums = [Double](repeating: 0, count: k * d), counts = [Int](repeating: 0, count: k)
        for i in 0..<n { counts[assign[i]] += 1; for t in 0..<d { sums[assign[i] * d + t] += Double(x.data[i * d + t]) } }
        for j in 0..<k where counts[j] > 0 { for t in 0..<d { c[j * d + t] = sums[j * d + t] / Double(counts[j]) } }
    }
    nearest()
    return (c, assign)
}
