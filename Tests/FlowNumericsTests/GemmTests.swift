import Testing
import FlowNumerics
import FlowTestSupport

/// Products checked against a triple loop in Double.
@Suite(.serialized) struct GemmTests {
    @Test(arguments: [(Transpose.none, Transpose.none), (.transpose, .none), (.none, .transpose), (.transpose, .transpose)])
    func matrixGemmMatchesBruteForce(ta: Transpose, tb: Transpose) throws {
        var rng = SeededGenerator(seed: 11)
        let (m, n, k) = (7, 5, 9)
        let a = random(ta == .none ? m : k, ta == .none ? k : m, &rng)
        let b = random(tb == .none ? k : n, tb == .none ? n : k, &rng)
        var c = random(m, n, &rng)
        let c0 = c
        gemm(ta, tb, alpha: 1.5, a, b, beta: -0.5, into: &c)
        let at = ta == .none ? a : a.transposed(), bt = tb == .none ? b : b.transposed()
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k { s += Double(at[i, p]) * Double(bt[p, j]) }
                let want = 1.5 * s - 0.5 * Double(c0[i, j])
                #expect(abs(Double(c[i, j]) - want) < 1e-4)
            }
        }
        #expect(matmul(a, b, ta, tb).rows == m)
    }

    @Test func blockGemmAddressesSubmatrices() {
        // A is the 2x3 block at (1, 1) of a 4x5 buffer; B the 3x2 block at (0, 2) of a 3x4 buffer;
        // C the 2x2 block at (1, 0) of a 3x3 buffer. Everything else in C must stay untouched.
        let bigA = (0..<20).map { Float($0) }, bigB = (0..<12).map { Float($0) - 3 }
        var bigC = [Float](repeating: 99, count: 9)
        gemm(.none, .none, m: 2, n: 2, k: 3, bigA, Block(offset: 6, ld: 5), bigB, Block(offset: 2, ld: 4),
             &bigC, Block(offset: 3, ld: 3))
        for i in 0..<2 {
            for j in 0..<2 {
                let want = (0..<3).reduce(Float(0)) { $0 + bigA[6 + i * 5 + $1] * bigB[2 + $1 * 4 + j] }
                #expect(bigC[3 + i * 3 + j] == want)
            }
        }
        #expect(bigC[0...2].allSatisfy { $0 == 99 } && bigC[5] == 99 && bigC[8] == 99)
    }

    @Test func batchedGemmEqualsPerHeadProducts() throws {
        // Attention-style scores: 3 heads, Q and K each [heads, 4, 2], S = Q Kᵀ per head.
        var rng = SeededGenerator(seed: 5)
        let q = (0..<24).map { _ in Float.random(in: -1...1, using: &rng) }
        let k = (0..<24).map { _ in Float.random(in: -1...1, using: &rng) }
        var s = [Float](repeating: 0, count: 48)
        batchedGemm(batch: 3, .none, .transpose, m: 4, n: 4, k: 2, q, Block(ld: 2), strideA: 8,
                    k, Block(ld: 2), strideB: 8, &s, Block(ld: 4), strideC: 16)
        for h in 0..<3 {
            let qh = try Matrix(rows: 4, cols: 2, data: Array(q[(h * 8)..<(h * 8 + 8)]))
            let kh = try Matrix(rows: 4, cols: 2, data: Array(k[(h * 8)..<(h * 8 + 8)]))
            #expect(matmul(qh, kh, .none, .transpose).data == Array(s[(h * 16)..<(h * 16 + 16)]))
        }
    }

    @Test func emptyInnerDimensionGivesBetaC() throws {
        var c = try Matrix(rows: 1, cols: 2, data: [2, 4])
        gemm(.none, .none, Matrix(rows: 1, cols: 0), Matrix(rows: 0, cols: 2), beta: 0.5, into: &c)
        #expect(c.data == [1, 2])
    }

    @Test func matrixRejectsWrongCount() {
        #expect(throws: NumericsError.self) { try Matrix(rows: 2, cols: 3, data: [1, 2]) }
        #expect(throws: NumericsError.self) { try Matrix([[1, 2], [3]]) }
    }
}

func random(_ rows: Int, _ cols: Int, _ rng: inout SeededGenerator) -> Matrix {
    var m = Matrix(rows: rows, cols: cols)
    for i in m.data.indices { m.data[i] = Float.random(in: -1...1, using: &rng) }
    return m
}
