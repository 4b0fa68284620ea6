import Testing
import FlowNumerics
import FlowTestSupport

/// Top-k and blocked cosine search against brute force in Double.
@Suite(.serialized) struct SearchTests {
    @Test(arguments: [(1, 7), (5, 3), (10, 1000), (33, 64)])
    func searchEqualsBruteForce(k: Int, poolBlock: Int) throws {
        var rng = SeededGenerator(seed: UInt64(k * 31 + poolBlock))
        let q = random(37, 12, &rng), p = random(150, 12, &rng)
        let r = try NearestNeighbors.search(queries: q, pool: p, k: k, poolBlock: poolBlock)
        for i in 0..<q.rows {
            let sims = (0..<p.rows).map { j in cosine(q.row(i), p.row(j)) }
            let want = sims.indices.sorted { sims[$0] > sims[$1] || (sims[$0] == sims[$1] && $0 < $1) }.prefix(k)
            let got = r.row(i)
            #expect(got.map(\.index) == Array(want), "query \(i)")
            for (g, w) in zip(got, want) { #expect(abs(Double(g.score) - sims[w]) < 1e-5) }
        }
    }

    /// More queries than one chunk (1024), so several workers each run their own sgemm and
    /// merge: the lists must equal brute force and be identical for 1 and 2 threads.
    @Test func searchOverSeveralQueryChunksIsTheSameForAnyThreadCount() throws {
        var rng = SeededGenerator(seed: 77)
        let q = random(2500, 16, &rng), p = random(700, 16, &rng)
        defer { Numerics.setThreads(1) }
        Numerics.setThreads(1)
        let one = try NearestNeighbors.search(queries: q, pool: p, k: 5, poolBlock: 256)
        Numerics.setThreads(2)
        let two = try NearestNeighbors.search(queries: q, pool: p, k: 5, poolBlock: 256)
        #expect(one.indices == two.indices)
        #expect(one.scores == two.scores)
        for i in Array(stride(from: 0, to: q.rows, by: 97)) + [1023, 1024, 2047, 2048, 2499] {
            let sims = (0..<p.rows).map { j in cosine(q.row(i), p.row(j)) }
            let want = sims.indices.sorted { sims[$0] > sims[$1] || (sims[$0] == sims[$1] && $0 < $1) }.prefix(5)
            #expect(two.row(i).map(\.index) == Array(want), "query \(i)")
        }
    }

    /// A pool block wider than one score tile (4096 columns) is scored in slices.
    @Test func poolBlockWiderThanATileIsScoredInSlices() throws {
        var rng = SeededGenerator(seed: 78)
        let q = random(9, 4, &rng), p = random(5000, 4, &rng)
        let r = try NearestNeighbors.search(queries: q, pool: p, k: 3, poolBlock: 10_000)
        for i in 0..<q.rows {
            let sims = (0..<p.rows).map { j in cosine(q.row(i), p.row(j)) }
            let want = sims.indices.sorted { sims[$0] > sims[$1] || (sims[$0] == sims[$1] && $0 < $1) }.prefix(3)
            #expect(r.row(i).map(\.index) == Array(want), "query \(i)")
        }
    }

    @Test func topKOfMatrixKeepsLowerIndexOnTies() throws {
        let s = try Matrix([[1, 3, 3, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5],
                            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]])
        let t = topK(s, k: 3)
        #expect(t.row(0).map(\.index) == [17, 1, 2])
        #expect(t.row(1).map(\.index) == [0, 1, 2])
        let wide = topK(s, k: 20)
        #expect(wide.row(0).count == 18)
        #expect(wide.indices[19] == -1)
    }

    @Test func searchErrorsAreClear() throws {
        let q = try Matrix([[1, 0], [0, 1]]), p = try Matrix([[1, 1, 0]])
        #expect(throws: NumericsError("queries have dimension 2 but the pool has dimension 3")) {
            try NearestNeighbors.search(queries: q, pool: p, k: 1)
        }
        #expect(throws: NumericsError("k = 3 is larger than the pool (2 rows)")) {
            try NearestNeighbors.search(queries: q, pool: q, k: 3)
        }
        var nan = try Matrix([[1, 0], [1, 1], [2, 2], [0, 0]])
        nan[2, 0] = .nan
        #expect(throws: NumericsError("pool row 2 contains NaN or infinity: fix or drop that row")) {
            try NearestNeighbors.search(queries: q, pool: nan, k: 1, poolBlock: 2)
        }
        nan[2, 0] = 1
        #expect(throws: NumericsError("pool row 3 is all zeros: it has no direction for cosine similarity")) {
            try NearestNeighbors.search(queries: q, pool: nan, k: 1, poolBlock: 2)
        }
        #expect(throws: NumericsError("queries has no rows: nothing to process")) {
            try NearestNeighbors.search(queries: Matrix(rows: 0, cols: 2), pool: q, k: 1)
        }
    }
}

func cosine(_ a: [Float], _ b: [Float]) -> Double {
    var ab = 0.0, aa = 0.0, bb = 0.0
    for (x, y) in zip(a, b) { ab += Double(x) * Double(y); aa += Double(x) * Double(x); bb += Double(y) * Double(y) }
    return ab / (aa.squareRoot() * bb.squareRoot())
}
