import Testing
@testable import BLAS
import FlowTestSupport

@Suite(.serialized) struct BLASTests {
    @Test func sgemmKnownValue() {
        // [1 2 3; 4 5 6] · [7 8; 9 10; 11 12] = [58 64; 139 154]
        let a: [Float] = [1, 2, 3, 4, 5, 6], b: [Float] = [7, 8, 9, 10, 11, 12]
        var c = [Float](repeating: -1, count: 4)
        BLAS.sgemm(.none, .none, m: 2, n: 2, k: 3, a: a, lda: 3, b: b, ldb: 2, c: &c, ldc: 2)
        #expect(c == [58, 64, 139, 154])
    }

    @Test func sgemmTransposesMatchBruteForce() {
        var rng = SeededGenerator(seed: 7)
        let (m, n, k) = (5, 4, 3)
        for ta in [Transpose.none, .transpose] {
            for tb in [Transpose.none, .transpose] {
                let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &rng) }, b = (0..<(k * n)).map { _ in Float.random(in: -1...1, using: &rng) }
                func av(_ i: Int, _ p: Int) -> Float { ta == .none ? a[i * k + p] : a[p * m + i] }
                func bv(_ p: Int, _ j: Int) -> Float { tb == .none ? b[p * n + j] : b[j * k + p] }
                var c = [Float](repeating: 1, count: m * n)
                BLAS.sgemm(ta, tb, m: m, n: n, k: k, alpha: 2, a: a, lda: ta == .none ? k : m,
                           b: b, ldb: tb == .none ? n : k, beta: 0.5, c: &c, ldc: n)
                for i in 0..<m {
                    for j in 0..<n {
                        let want = 2 * (0..<k).reduce(Float(0)) { $0 + av(i, $1) * bv($1, j) } + 0.5
                        #expect(abs(c[i * n + j] - want) < 1e-5, "ta=\(ta) tb=\(tb) (\(i),\(j))")
                    }
                }
            }
        }
    }

    @Test func threadCountIsExplicit() {
        // Whatever OPENBLAS_NUM_THREADS says, the wrapper starts at 1 and follows setThreads.
        BLAS.setThreads(1)
        #expect(BLAS.threads == 1)
        BLAS.setThreads(2)
        #expect(BLAS.threads == 2)
        BLAS.setThreads(0)
        #expect(BLAS.threads == 1)
        #expect(BLAS.configuration.contains("OpenBLAS"))
    }

    @Test func kernelMatchesTheCPU() {
        // After first use, the kernel is at least as strong as the CPU's instruction set allows
        // (OpenBLAS 0.3.21 alone falls back to Prescott on recent Intel Xeons).
        BLAS.setThreads(1)
        if let flags = BLAS.cpuFlags(), let best = BLAS.bestCore(flags: flags) {
            #expect(BLAS.rank(BLAS.coreName) >= BLAS.rank(best), "core \(BLAS.coreName), CPU allows \(best); \(BLAS.kernelNote ?? "")")
        }
        #expect(BLAS.bestCore(flags: ["avx2", "fma"]) == "Haswell")
        #expect(BLAS.bestCore(flags: ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd", "avx512_bf16"]) == "Cooperlake")
        #expect(BLAS.rank("Prescott") == 0 && BLAS.rank("SapphireRapids") == 3)
    }

    @Test func level1Routines() {
        let x: [Float] = [3, 4, 0], y: [Float] = [1, 2, 3]
        #expect(BLAS.sdot(count: 3, x: x, y: y) == 11)
        #expect(BLAS.snrm2(count: 3, x: x) == 5)
        var z = y
        BLAS.saxpy(count: 3, alpha: 2, x: x, y: &z)
        #expect(z == [7, 10, 3])
        BLAS.sscal(count: 3, alpha: -1, x: &z)
        #expect(z == [-7, -10, -3])
        var out: [Float] = [0, 0]
        BLAS.sgemv(.none, m: 2, n: 3, a: [1, 0, 0, 0, 1, 1], lda: 3, x: y, y: &out)
        #expect(out == [1, 5])
    }
}
