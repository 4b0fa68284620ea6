import Testing
import Foundation
import FlowNumerics
import FlowTestSupport

/// Embeddings whose spread is tiny against their norm (a common offset of norm 1e3, clusters
/// of radius ~1e-3): the |x|² − 2x·c + |c|² expansion in Float loses every digit of the
/// distances to cancellation unless the data are centred first.
@Suite struct KMeansOffsetTests {
    static let d = 16, k = 6, perCluster = 50

    /// Planted clusters: centres 1e-3 apart around an offset of norm 1e3, members 1e-4 from them.
    static func offsetBlobs(seed: UInt64) -> Matrix {
        var rng = SeededGenerator(seed: seed)
        let dir = (0..<d).map { _ in gaussian(&rng) }
        let norm = dir.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        let offset = dir.map { $0 / norm * 1e3 }
        let centres = (0..<k).map { _ in (0..<d).map { _ in 1e-3 * gaussian(&rng) / Float(d).squareRoot() * 3 } }
        var rows = [[Float]]()
        for c in centres {
            for _ in 0..<perCluster {
                rows.append((0..<d).map { j in offset[j] + c[j] + 1e-4 * gaussian(&rng) / Float(d).squareRoot() })
            }
        }
        return try! Matrix(rows)
    }

    /// Squared distance in Double of float rows.
    static func distance64(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0.0) { let e = Double($1.0) - Double($1.1); return $0 + e * e }
    }

    static func nearest64(_ x: Matrix, _ c: Matrix, row i: Int) -> Int {
        let xi = x.row(i)
        return (0..<c.rows).min { distance64(xi, c.row($0)) < distance64(xi, c.row($1)) }!
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func assignmentIsTheNearestCentroidDespiteTheOffset(seed: UInt64) throws {
        let x = Self.offsetBlobs(seed: seed)
        let r = try KMeans.fit(x, KMeansOptions(k: Self.k, iterations: 20, seed: seed))
        var wrong = 0
        for i in 0..<x.rows where r.assignment[i] != Self.nearest64(x, r.centroids, row: i) { wrong += 1 }
        #expect(wrong == 0, "\(wrong) of \(x.rows) rows not assigned to their nearest centroid")
        // The planted clusters are recovered: each is one cluster.
        for b in 0..<Self.k {
            let labels = Set(r.assignment[(b * Self.perCluster)..<((b + 1) * Self.perCluster)])
            #expect(labels.count == 1, "planted cluster \(b) split over \(labels)")
        }
        #expect(r.emptyClusters.isEmpty)
    }

    @Test(arguments: [UInt64(4), 5])
    func inertiaMatchesAFloat64LloydFromTheSameInit(seed: UInt64) throws {
        let x = Self.offsetBlobs(seed: seed)
        var rng = SeededGenerator(seed: seed)
        let initial = x.rows((0..<Self.k).map { _ in Int.random(in: 0..<x.rows, using: &rng) })
        let r = KMeans.lloyd(x, initial: initial, iterations: 10)
        let ref = plainLloyd(x, initial: initial, iterations: 10)
        var refInertia = 0.0
        for i in 0..<x.rows {
            let c = Array(ref.centroids[(ref.assignment[i] * Self.d)..<((ref.assignment[i] + 1) * Self.d)])
            refInertia += zip(x.row(i), c).reduce(0.0) { let e = Double($1.0) - $1.1; return $0 + e * e }
        }
        #expect(abs(r.finalInertia - refInertia) <= 0.01 * refInertia, "inertia \(r.finalInertia), Float64 Lloyd \(refInertia)")
        for i in 0..<x.rows {
            #expect(r.assignment[i] == Self.nearest64(x, r.centroids, row: i), "row \(i)")
            if r.assignment[i] != Self.nearest64(x, r.centroids, row: i) { break }
        }
    }

    @Test func emptyClustersAndTooFewDistinctPointsAreReported() throws {
        // 3 distinct points, 10 rows, k = 5: two clusters cannot hold a point of their own.
        let x = try Matrix((0..<10).map { i in [Float(i % 3), 1] })
        let r = try KMeans.fit(x, KMeansOptions(k: 5, iterations: 5, seed: 1))
        #expect(r.emptyClusters.count == 2)
        #expect(KMeans.distinctRowCount(x, upTo: 5) == 3)
        #expect(KMeans.distinctRowCount(x, upTo: 2) == 2)
        let warnings = KMeans.warnings(for: r, data: x)
        #expect(warnings == ["2 of 5 clusters ended empty", "the data has only 3 distinct points, fewer than k = 5"])
        let fine = try KMeans.fit(Self.offsetBlobs(seed: 1), KMeansOptions(k: 6, iterations: 5, seed: 1))
        #expect(KMeans.warnings(for: fine, data: Self.offsetBlobs(seed: 1)).isEmpty)
    }
}

/// The cosine search of dedup and retrieval on the same kind of data: every row points nearly
/// the same way, so plain dot products of the normalised rows all round to 1 in Float.
@Suite struct SearchOffsetTests {
    @Test(arguments: [UInt64(1), 2])
    func nearestNeighboursAreTheFloat64Ones(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let d = 16
        let offset = (0..<d).map { _ in 250 * gaussian(&rng) }
        let x = try Matrix((0..<300).map { _ in offset.map { $0 + 0.1 * gaussian(&rng) } })
        let r = try NearestNeighbors.search(queries: x, pool: x, k: 2)
        func cosine64(_ a: [Float], _ b: [Float]) -> Double {
            var ab = 0.0, aa = 0.0, bb = 0.0
            for (u, v) in zip(a, b) { ab += Double(u) * Double(v); aa += Double(u) * Double(u); bb += Double(v) * Double(v) }
            return ab / (aa * bb).squareRoot()
        }
        // 1 − cos in Float64 from the differences, where the plain formula would cancel too.
        func gap64(_ a: [Float], _ b: [Float]) -> Double {
            let na = a.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            let nb = b.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            return 0.5 * zip(a, b).reduce(0.0) { let e = Double($1.0) / na - Double($1.1) / nb; return $0 + e * e }
        }
        var wrong = 0
        for i in 0..<x.rows {
            let others = (0..<x.rows).filter { $0 != i }
            let best = others.min { gap64(x.row(i), x.row($0)) < gap64(x.row(i), x.row($1)) }!
            let found = r.row(i).map(\.index).first { $0 != i }
            if found != best { wrong += 1 }
            #expect(abs(Double(r.row(i).first { $0.index == best }?.score ?? 0) - cosine64(x.row(i), x.row(best))) < 1e-6)
        }
        #expect(wrong == 0, "\(wrong) of \(x.rows) rows have another nearest neighbour than in Float64")
    }
}
