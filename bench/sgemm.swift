// sgemm peak of this machine through Debian's OpenBLAS (the library flow links), 1 and 2 threads.
// C[4096, 4096] = A[4096, 384] · B[384, 4096]: the shape of k-means / k-NN scoring tiles.
// Built and run by bench/sgemm.sh.
import COpenBLAS
import Foundation

let (m, n, k) = (4096, 4096, 384)
var a = [Float](repeating: 0, count: m * k), b = [Float](repeating: 0, count: k * n)
var c = [Float](repeating: 0, count: m * n)
for i in a.indices { a[i] = Float(i % 7) * 0.1 - 0.3 }
for i in b.indices { b[i] = Float(i % 5) * 0.1 - 0.2 }
func measure() {
print("OpenBLAS: \(String(cString: openblas_get_config())), core \(String(cString: openblas_get_corename()))")
for threads in [1, 2] {
    openblas_set_num_threads(Int32(threads))
    var times = [Double]()
    for _ in 0..<8 {
        let t = Date()
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(n), 0, &c, Int32(n))
        times.append(Date().timeIntervalSince(t))
    }
    times.sort()
    let flop = 2.0 * Double(m) * Double(n) * Double(k)
    print(String(format: "sgemm 4096x384x4096, %d thread(s): best %.1f GFLOP/s, median %.1f GFLOP/s (8 calls)",
                 threads, flop / times[0] / 1e9, flop / times[4] / 1e9))
}
}

// First the kernel OpenBLAS picked at load time, then each kernel named on the command line
// (switched the way flow's BLAS wrapper does it, through flow_openblas_select_core).
measure()
for core in CommandLine.arguments.dropFirst() {
    _ = flow_openblas_select_core(core)
    measure()
}
