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
