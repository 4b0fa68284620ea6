// Matrix products over cblas_sgemm: whole matrices, blocks inside larger buffers, and batches.
@_exported import BLAS  // Transpose and the raw BLAS calls are part of this module's API
import Foundation


/// Thread configuration of the numeric core.
///
/// One process-wide count drives both OpenBLAS (`openblas_set_num_threads`) and the core's own
/// parallel loops (distance argmin, top-k selection). It starts at 1 and changes only through
/// `setThreads`: ops call it once with `StepEnvironment.threads(--threads)`.
/// Threading rule: call it before the work starts, from one thread.
public enum Numerics {
    private static let current = ThreadCount()

    /// Sets the thread count for BLAS calls and for the core's parallel loops.
    public static func setThreads(_ n: Int) {
        current.value = max(1, n)
        BLAS.setThreads(max(1, n))
    }

    /// The current thread count (1 unless `setThreads` changed it).
    public static var threads: Int { current.value }
}

/// The thread count behind `Numerics.threads`, under a lock: the threading rule keeps it from
/// changing during work, and the lock keeps even a careless caller (tests run in parallel)
/// from a torn read.
// @unchecked: `stored` is read and written only while `lock` is held.
private final class ThreadCount: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = 1

    var value: Int {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); defer { lock.unlock() }; stored = newValue }
    }
}

/// C = alpha · op(A) · op(B) + beta · C for whole matrices (`cblas_sgemm`).
///
/// Shapes: op(A) is m×k, op(B) is k×n, and C must already be m×n (its contents matter only
/// when beta ≠ 0). Mismatched shapes are programmer errors and trap.
public func gemm(_ transA: Transpose = .none, _ transB: Transpose = .none, alpha: Float = 1,
                 _ a: Matrix, _ b: Matrix, beta: Float = 0, into c: inout Matrix) {
    let (m, ka) = transA == .none ? (a.rows, a.cols) : (a.cols, a.rows)
    let (kb, n) = transB == .none ? (b.rows, b.cols) : (b.cols, b.rows)
    precondition(ka == kb, "gemm: inner dimensions differ (\(ka) vs \(kb))")
    precondition(c.rows == m && c.cols == n, "gemm: C is \(c.rows)x\(c.cols), expected \(m)x\(n)")
    if m == 0 || n == 0 { return }  // C is empty
    if ka == 0 {
        // BLAS leaves C untouched when k == 0; the product is zero, so C = beta · C.
        for i in c.data.indices { c.data[i] *= beta }
        return
    }
    a.data.withUnsafeBufferPointer { pa in
        b.data.withUnsafeBufferPointer { pb in
            c.data.withUnsafeMutableBufferPointer { pc in
                BLAS.sgemm(transA, transB, m: m, n: n, k: ka, alpha: alpha,
                           a: pa.start, lda: max(1, a.cols), b: pb.start, ldb: max(1, b.cols),
                           beta: beta, c: pc.start, ldc: max(1, n))
            }
        }
    }
}

/// op(A) · op(B) as a new matrix.
public func matmul(_ a: Matrix, _ b: Matrix, _ transA: Transpose = .none, _ transB: Transpose = .none) -> Matrix {
    let m = transA == .none ? a.rows : a.cols
    let n = transB == .none ? b.cols : b.rows
    var c = Matrix(rows: m, cols: n)
    gemm(transA, transB, a, b, into: &c)
    return c
}

/// A block of a flat row-major buffer: `offset` of element (0, 0) and the row stride `ld`.
public struct Block: Sendable {
    public var offset: Int
    public var ld: Int
    public init(offset: Int = 0, ld: Int) { self.offset = offset; self.ld = ld }
}

/// C = alpha · op(A) · op(B) + beta · C on blocks inside larger flat buffers.
///
/// op(A) is m×k, op(B) is k×n, C is m×n; each block starts at its `offset` and steps rows by
/// its `ld` (the leading dimension of the stored, untransposed block). Bounds are checked:
/// a block that would read or write outside its buffer traps.
public func gemm(_ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int, alpha: Float = 1,
                 _ a: [Float], _ blockA: Block, _ b: [Float], _ blockB: Block,
                 beta: Float = 0, _ c: inout [Float], _ blockC: Block) {
    let (ar, ac) = transA == .none ? (m, k) : (k, m)
    let (br, bc) = transB == .none ? (k, n) : (n, k)
    checkBlock(a.count, blockA, rows: ar, cols: ac, "A")
    checkBlock(b.count, blockB, rows: br, cols: bc, "B")
    checkBlock(c.count, blockC, rows: m, cols: n, "C")
    if m == 0 || n == 0 { return }
    if k == 0 {
        for r in 0..<m { for j in 0..<n { c[blockC.offset + r * blockC.ld + j] *= beta } }
        return
    }
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            c.withUnsafeMutableBufferPointer { pc in
                BLAS.sgemm(transA, transB, m: m, n: n, k: k, alpha: alpha,
                           a: pa.start + blockA.offset, lda: blockA.ld,
                           b: pb.start + blockB.offset, ldb: blockB.ld,
                           beta: beta, c: pc.start + blockC.offset, ldc: blockC.ld)
            }
        }
    }
}

/// `batch` independent products C_i = alpha · op(A_i) · op(B_i) + beta · C_i, where block i of
/// each operand starts `stride` elements after block i−1 (e.g. attention over heads: one
/// [N, d] block per head). OpenBLAS 0.3.21 has no batched sgemm, so this loops over sgemm;
/// each call uses the configured BLAS threads.
public func batchedGemm(batch: Int, _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
                        alpha: Float = 1,
                        _ a: [Float], _ blockA: Block, strideA: Int,
                        _ b: [Float], _ blockB: Block, strideB: Int,
                        beta: Float = 0, _ c: inout [Float], _ blockC: Block, strideC: Int) {
    for i in 0..<batch {
        gemm(transA, transB, m: m, n: n, k: k, alpha: alpha,
             a, Block(offset: blockA.offset + i * strideA, ld: blockA.ld),
             b, Block(offset: blockB.offset + i * strideB, ld: blockB.ld),
             beta: beta, &c, Block(offset: blockC.offset + i * strideC, ld: blockC.ld))
    }
}

private func checkBlock(_ count: Int, _ block: Block, rows: Int, cols: Int, _ name: String) {
    precondition(rows >= 0 && cols >= 0, "gemm: negative size for \(name)")
    precondition(block.ld >= max(1, cols), "gemm: ld of \(name) (\(block.ld)) is less than its \(cols) columns")
    if rows == 0 || cols == 0 { return }
    let last = block.offset + (rows - 1) * block.ld + cols
    precondition(block.offset >= 0 && last <= count,
                 "gemm: block \(name) (\(rows)x\(cols) at offset \(block.offset), ld \(block.ld)) exceeds its buffer of \(count)")
}
