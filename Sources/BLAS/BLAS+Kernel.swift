// Which OpenBLAS CPU kernel runs, chosen explicitly rather than left to a fallback.
import COpenBLAS
#if canImport(Glibc)
import Glibc
#endif

extension BLAS {
    /// What kernel selection did at first use: nil when OpenBLAS's own choice was kept,
    /// else e.g. "OpenBLAS picked Prescott; selected Cooperlake (CPU has AVX-512 and BF16)".
    public static var kernelNote: String? { configured.note }

    /// Applied once, before any OpenBLAS call: 1 thread, and a kernel that matches the CPU.
    ///
    /// OpenBLAS 0.3.21 (Debian 12) falls back to the generic Prescott kernel on CPUs newer than
    /// it knows, e.g. the Intel Xeons with AVX512-FP16, where Cooperlake's AVX-512 sgemm is
    /// 4-5x faster. When the picked kernel is weaker than the CPU's instruction set allows, this
    /// re-initialises OpenBLAS with the better one. OPENBLAS_CORETYPE, when the user set it,
    /// is left alone (OpenBLAS already honoured it at load time).
    static let configured: (note: String?, Void) = {
        openblas_set_num_threads(1)
        guard getenv("OPENBLAS_CORETYPE") == nil else { return (nil, ()) }
        let picked = coreName
        guard let flags = cpuFlags(), let target = bestCore(flags: flags),
              rank(target) > rank(picked) else { return (nil, ()) }
        guard flow_openblas_select_core(target) == 1 else { return (nil, ()) }
        openblas_set_num_threads(1)
        return ("OpenBLAS picked \(picked) for this CPU; selected \(coreName)", ())
    }()

    /// The strongest kernel the CPU flags allow (x86-64 only).
    static func bestCore(flags: Set<Substring>) -> String? {
        let avx512 = ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].allSatisfy { flags.contains(Substring($0)) }
        if avx512 { return flags.contains("avx512_bf16") ? "Cooperlake" : "SkylakeX" }
        if flags.contains("avx2") && flags.contains("fma") { return "Haswell" }
        return nil
    }

    /// 0 = generic SSE kernels, 1 = AVX, 2 = AVX2/FMA, 3 = AVX-512. Unknown names count as 3
    /// (newer than this table: keep OpenBLAS's choice).
    static func rank(_ core: String) -> Int {
        switch core.lowercased() {
        case "prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai", "coppermine",
             "northwood", "banias", "athlon", "opteron", "opteron_sse3", "barcelona", "bobcat", "nano":
            return 0
        case "sandybridge", "bulldozer", "piledriver", "steamroller", "excavator": return 1
        case "haswell", "zen": return 2
        default: return 3
        }
    }

    /// The CPU flags from /proc/cpuinfo (Linux), or nil elsewhere.
    static func cpuFlags() -> Set<Substring>? {
        guard let f = fopen("/proc/cpuinfo", "r") else { return nil }
        defer { fclose(f) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var cap = 0
        defer { free(line) }
        while getline(&line, &cap, f) > 0 {
            guard let line else { break }
            let s = String(cString: line)
            if s.hasPrefix("flags") {
                return Set(s.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == ":" }))
            }
        }
        return nil
    }
}
