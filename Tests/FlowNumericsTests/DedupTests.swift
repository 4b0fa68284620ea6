import Testing
import FlowNumerics
import FlowTestSupport

@Suite(.serialized) struct DedupTests {
    /// 40 random directions in 64-d (pairwise cosine well below 0.6) plus planted copies:
    /// rows 40, 41 copy row 3 (a triplet), row 42 copies row 7, row 43 copies row 10.
    /// The reference set holds a copy of row 20 and an unrelated vector.
    func designedCase() -> (Matrix, Matrix) {
        var rng = SeededGenerator(seed: 21)
        var x = random(40, 64, &rng)
        for (copyOf, noise) in [(3, 0.05), (3, 0.08), (7, 0.05), (10, 0.1)] as [(Int, Float)] {
            x.data += x.row(copyOf).map { $0 + noise * Float.random(in: -1...1, using: &rng) }
            x.rows += 1
        }
        var r = random(2, 64, &rng)
        for j in 0..<64 { r[0, j] = x[20, j] + 0.05 * Float.random(in: -1...1, using: &rng) }
        return (x, r)
    }

    @Test func findsEveryPlantedDuplicateAndNothingElse() throws {
        let (x, r) = designedCase()
        let self1 = try Dedup.run(x, threshold: 0.6, k: 8)
        #expect(self1.keep == Array(0..<40))
        #expect(self1.removedAsDuplicates == 4)
        #expect(self1.edges == 5)   // 3-40, 3-41, 40-41, 7-42, 10-43
        #expect(self1.component[41] == 3 && self1.component[42] == 7 && self1.component[43] == 10)

        // Relative: row 20 is near the reference, so its component (just itself) goes too;
        // with row 43 near the reference instead, the whole component {10, 43} would go.
        let rel = try Dedup.run(x, threshold: 0.6, k: 8, reference: r, referenceThreshold: 0.45)
        #expect(rel.keep == Array(0..<40).filter { $0 != 20 })
        #expect(rel.nearReference == 1 && rel.removedNearReference == 1)
        var r2 = r
        for j in 0..<64 { r2[0, j] = x[43, j] }
        let rel2 = try Dedup.run(x, threshold: 0.6, k: 8, reference: r2, referenceThreshold: 0.45)
        #expect(!rel2.keep.contains(10) && rel2.removedNearReference == 2)
    }

    @Test func componentsEqualBruteForce() throws {
        // Chains of near copies: components must be transitive closures of pairs above 0.9.
        var rng = SeededGenerator(seed: 5)
        var x = random(30, 24, &rng)
        for _ in 0..<30 {
            let src = Int.random(in: 0..<x.rows, using: &rng)
            x.data += x.row(src).map { $0 + 0.15 * Float.random(in: -1...1, using: &rng) }
            x.rows += 1
        }
        let got = try Dedup.run(x, threshold: 0.9, k: x.rows)
        var uf = UnionFind(x.rows)
        for i in 0..<x.rows { for j in (i + 1)..<x.rows where cosine(x.row(i), x.row(j)) > 0.9 { uf.union(i, j) } }
        var first = [Int: Int]()
        let want = (0..<x.rows).map { i -> Int in let r = uf.find(i); if first[r] == nil { first[r] = i }; return first[r]! }
        #expect(got.component == want)
        #expect(got.keep == (0..<x.rows).filter { want[$0] == $0 })
        #expect(got.keep.count < x.rows)
    }

    @Test func dimensionMismatchWithReference() throws {
        let x = try Matrix([[1, 0], [0, 1]])
        #expect(throws: NumericsError("embeddings have dimension 2 but the reference set has dimension 3")) {
            try Dedup.run(x, threshold: 0.6, reference: try Matrix([[1, 0, 0]]))
        }
    }
}
