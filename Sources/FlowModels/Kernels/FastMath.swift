/// Vectorizable single-precision exp and erf for the ViT's softmax and exact GELU.
///
/// libm's `expf`/`erff` are scalar calls that would cost as much as the matrix products in a
/// ViT forward; these loops are branch-free so the compiler can vectorize them.
/// Accuracy (checked in FastMathTests against Double libm): exp within 2e-7 relative on
/// [-87, 88], erf within 1e-6 absolute everywhere.
enum FastMath {
    /// e^x, for x clamped to [-87, 88] (exp(-87) ≈ 1.6e-38; softmax inputs are ≤ 0).
    @inline(__always)
    static func exp(_ input: Float) -> Float {
        let x = Swift.min(Swift.max(input, -87), 88)
        // x = n·ln2 + r with |r| ≤ ln2/2; n found by the 1.5·2^23 rounding trick.
        let magic: Float = 12_582_912
        let shifted = x * 1.442_695_04 + magic
        let n = shifted - magic
        let r = (x - n * 0.693_145_751_953_125) - n * 1.428_606_765_330_187e-6
        // Taylor polynomial to degree 6 on |r| ≤ 0.347: truncation error < 1.3e-7 relative.
        var p: Float = 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        // 2^n: n sits in the low mantissa bits of `shifted`.
        let ni = Int32(bitPattern: shifted.bitPattern) &- Int32(bitPattern: magic.bitPattern)
        let scale = Float(bitPattern: UInt32(bitPattern: (ni &+ 127) &<< 23))
        return p * scale
    }

    /// erf(x) as a rational function on [-4, 4] (±1 outside, where float erf is ±1).
    /// Coefficients as in Eigen's `generic_fast_erf_float`.
    @inline(__always)
    static func erf(_ input: Float) -> Float {
        let x = Swift.min(Swift.max(input, -4), 4)
        let x2 = x * x
        var p: Float = -2.726_142_258_013_06e-10
        p = p * x2 + 2.770_681_424_959_02e-08
        p = p * x2 - 2.101_024_020_825_08e-06
        p = p * x2 - 5.692_506_394_623_46e-05
        p = p * x2 - 7.349_906_303_268_55e-04
        p = p * x2 - 2.954_599_808_540_25e-03
        p = p * x2 - 1.609_603_332_624_15e-02
        p = p * x
        var q: Float = -1.456_607_184_649_96e-05
        q = q * x2 - 2.133_740_552_789_05e-04
        q = q * x2 - 1.682_826_974_382_03e-03
        q = q * x2 - 7.373_329_167_204_68e-03
        q = q * x2 - 1.426_473_905_141_89e-02
        return p / q
    }

    /// Exact (erf) GELU: x · ½ · (1 + erf(x / √2)), as torch.nn.GELU() with approximate='none'.
    @inline(__always)
    static func gelu(_ x: Float) -> Float {
        0.5 * x * (1 + erf(x * 0.707_106_781_186_547_6))
    }

    /// In-place GELU over `count` values.
    static func gelu(_ values: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { values[i] = gelu(values[i]) }
    }

    /// In-place softmax of each of `rows` rows of length `cols` (stride `cols`).
    ///
    /// Written as separate passes so that the exp pass is a plain map the compiler vectorises
    /// (a sum inside it would not be: float addition is not reassociated); the max and the sum
    /// use four independent accumulators.
    static func softmaxRows(_ values: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        let body = cols & ~3
        for r in 0..<rows {
            let row = values + r * cols
            // The max as a compare-and-select on 4 lanes, which LLVM turns into `maxps`; scalar
            // `Swift.max` compiles to a 4-instruction blend per value on baseline x86-64.
            var mv = SIMD4<Float>(repeating: -.infinity)
            var j = 0
            let raw = UnsafeRawPointer(row)
            while j < body {
                let v = raw.loadUnaligned(fromByteOffset: j * 4, as: SIMD4<Float>.self)
                mv.replace(with: v, where: v .> mv)
                j += 4
            }
            var m0 = mv[0]
            while j < cols { m0 = Swift.max(m0, row[j]); j += 1 }
            let m = Swift.max(Swift.max(m0, mv[1]), Swift.max(mv[2], mv[3]))
            for k in 0..<cols { row[k] = exp(row[k] - m) }
            var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
            j = 0
            while j < body {
                s0 += row[j]; s1 += row[j + 1]; s2 += row[j + 2]; s3 += row[j + 3]
                j += 4
            }
            while j < cols { s0 += row[j]; j += 1 }
            let inv = 1 / ((s0 + s1) + (s2 + s3))
            for k in 0..<cols { row[k] *= inv }
        }
    }
}
