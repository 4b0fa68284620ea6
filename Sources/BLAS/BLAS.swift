// BLAS: a thin Swift wrapper over OpenBLAS's CBLAS interface (single precision, row-major).
//
// Threads: OpenBLAS keeps one process-wide thread count. OpenBLAS itself reads
// OPENBLAS_NUM_THREADS / OMP_NUM_THREADS when the library loads and otherwise uses every
// core; this wrapper overrides that on first use and sets **1 thread** until the caller
// says otherwise with `BLAS.setThreads(_:)`. So the environment never decides by surprise.
// The CPU kernel is checked on first use too (BLAS+Kernel.swift).
import COpenBLAS

/// Whether a matrix operand is used as stored or transposed (`CBLAS_TRANSPOSE`).
public enum Transpose: Sendable, Equatable {
    /// `CblasNoTrans`.
    case none
    /// `CblasTrans`.
    case transpose

    var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
}

/// Single-precision BLAS calls on row-major data, through OpenBLAS.
///
/// Every routine takes raw pointers plus leading dimensions, so callers can address a block
/// inside a larger buffer (offset the pointer, keep the big buffer's leading dimension).
/// Preconditions on sizes are programmer errors and trap; they are never user input.
/// Threading rule: the thread count is process-wide; set it once per step, before the work,
/// not concurrently from several threads.
public enum BLAS {
    /// Touches `configured` (1 thread, explicit kernel; see BLAS+Kernel.swift) before any call.
    private static var defaultThreads: Void { _ = configured }

    /// Sets the number of threads OpenBLAS uses for every later call (`openblas_set_num_threads`).
    public static func setThreads(_ n: Int) {
        _ = defaultThreads
        openblas_set_num_threads(Int32(max(1, n)))
    }

    /// The thread count OpenBLAS will use (`openblas_get_num_threads`).
    public static var threads: Int {
        _ = defaultThreads
        return Int(openblas_get_num_threads())
    }

    /// OpenBLAS's build description, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64".
    public static var configuration: String {
        guard let p = openblas_get_config() else { return "unknown" }
        return String(cString: p)
    }

    /// The CPU kernel OpenBLAS picked at load time (`openblas_get_corename`), e.g. "Cooperlake".
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// C = alpha · op(A) · op(B) + beta · C, row-major (`cblas_sgemm`).
    ///
    /// op(A) is m×k, op(B) is k×n, C is m×n. `lda`, `ldb`, `ldc` are the row strides of the
    /// buffers as stored (for a transposed operand, of the untransposed storage).
    public static func sgemm(_ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
                             alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(m >= 0 && n >= 0 && k >= 0, "sgemm: negative size m=\(m) n=\(n) k=\(k)")
        precondition(lda >= max(1, transA == .none ? k : m), "sgemm: lda \(lda) too small")
        precondition(ldb >= max(1, transB == .none ? n : k), "sgemm: ldb \(ldb) too small")
        precondition(ldc >= max(1, n), "sgemm: ldc \(ldc) too small")
        if m == 0 || n == 0 { return }
        _ = defaultThreads
        cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// y = alpha · op(A) · x + beta · y, row-major A of m×n as stored (`cblas_sgemv`).
    public static func sgemv(_ trans: Transpose, m: Int, n: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int, x: UnsafePointer<Float>, incx: Int = 1,
                             beta: Float = 0, y: UnsafeMutablePointer<Float>, incy: Int = 1) {
        precondition(m >= 0 && n >= 0 && lda >= max(1, n), "sgemv: bad sizes m=\(m) n=\(n) lda=\(lda)")
        if m == 0 || n == 0 { return }
        _ = defaultThreads
        cblas_sgemv(CblasRowMajor, trans.cblas, Int32(m), Int32(n), alpha, a, Int32(lda),
                    x, Int32(incx), beta, y, Int32(incy))
    }

    /// y += alpha · x over `count` elements (`cblas_saxpy`).
    public static func saxpy(count: Int, alpha: Float, x: UnsafePointer<Float>, incx: Int = 1,
                             y: UnsafeMutablePointer<Float>, incy: Int = 1) {
        if count <= 0 { return }
        _ = defaultThreads
        cblas_saxpy(Int32(count), alpha, x, Int32(incx), y, Int32(incy))
    }

    /// x *= alpha over `count` elements (`cblas_sscal`).
    public static func sscal(count: Int, alpha: Float, x: UnsafeMutablePointer<Float>, incx: Int = 1) {
        if count <= 0 { return }
        _ = defaultThreads
        cblas_sscal(Int32(count), alpha, x, Int32(incx))
    }

    /// The dot product x·y over `count` elements (`cblas_sdot`).
    public static func sdot(count: Int, x: UnsafePointer<Float>, incx: Int = 1,
                            y: UnsafePointer<Float>, incy: Int = 1) -> Float {
        if count <= 0 { return 0 }
        _ = defaultThreads
        return cblas_sdot(Int32(count), x, Int32(incx), y, Int32(incy))
    }

    /// The Euclidean norm ‖x‖ over `count` elements (`cblas_snrm2`).
    public static func snrm2(count: Int, x: UnsafePointer<Float>, incx: Int = 1) -> Float {
        if count <= 0 { return 0 }
        _ = defaultThreads
        return cblas_snrm2(Int32(count), x, Int32(incx))
    }
}
