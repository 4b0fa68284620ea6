/// IEEE 754 binary16 ("half", NumPy `<f2`, safetensors `F16`) ⇄ Float, by bit manipulation.
///
/// Written out rather than using Swift's `Float16` so that it behaves the same on every
/// platform (Float16 is missing on macOS x86_64). Float → half rounds to nearest, ties to even,
/// overflows to ±infinity and keeps NaNs quiet; half → Float is exact.
public enum Half {
    /// The Float with the value of the half-precision bit pattern `bits` (exact).
    @inline(__always)
    public static func float(fromBits bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        switch exponent {
        case 0:
            // Zero or subnormal: mantissa · 2^-24, exact in Float.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        case 0x1F:
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        default:
            return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
        }
    }

    /// The half-precision bit pattern nearest to `value` (ties to even).
    @inline(__always)
    public static func bits(from value: Float) -> UInt16 {
        let x = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (x >> 16) & 0x8000)
        let magnitude = x & 0x7FFF_FFFF
        if magnitude >= 0x7F80_0000 {
            // Infinity stays infinity; NaN keeps its top payload bits and is made quiet.
            if magnitude == 0x7F80_0000 { return sign | 0x7C00 }
            return sign | 0x7E00 | UInt16(truncatingIfNeeded: (magnitude >> 13) & 0x3FF)
        }
        if magnitude >= 0x477F_F000 { return sign | 0x7C00 }  // ≥ 65520 rounds to infinity
        if magnitude < 0x3880_0000 {
            // Below the smallest normal half (2^-14): a multiple of 2^-24, rounded to even.
            let scaled = (Float(bitPattern: magnitude) * 0x1p24).rounded(.toNearestOrEven)
            return sign | UInt16(scaled)  // 1024 encodes the smallest normal, as it should
        }
        let rebiased = magnitude - 0x3800_0000  // exponent bias 127 → 15
        let rounded = rebiased + 0xFFF + ((rebiased >> 13) & 1)
        return sign | UInt16(truncatingIfNeeded: rounded >> 13)
    }

    /// Decodes `count` little-endian halves from `bytes`.
    public static func floats(fromLittleEndian bytes: UnsafeRawBufferPointer) -> [Float] {
        let n = bytes.count / 2
        return [Float](unsafeUninitializedCapacity: n) { out, initialized in
            for i in 0..<n {
                let lo = UInt16(bytes[2 * i]), hi = UInt16(bytes[2 * i + 1])
                out[i] = float(fromBits: lo | hi << 8)
            }
            initialized = n
        }
    }

    /// Encodes `values` as little-endian halves.
    public static func littleEndianBytes(_ values: [Float]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: values.count * 2)
        for (i, v) in values.enumerated() {
            let b = bits(from: v)
            out[2 * i] = UInt8(truncatingIfNeeded: b)
            out[2 * i + 1] = UInt8(truncatingIfNeeded: b >> 8)
        }
        return out
    }
}

/// bfloat16 (safetensors `BF16`: the top 16 bits of a Float) ⇄ Float.
///
/// Float → bfloat16 rounds to nearest, ties to even (as PyTorch does), and keeps NaNs quiet.
public enum BFloat16 {
    @inline(__always)
    public static func float(fromBits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    @inline(__always)
    public static func bits(from value: Float) -> UInt16 {
        let x = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: x >> 16) | 0x0040 }
        let rounded = x &+ 0x7FFF &+ ((x >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }

    public static func floats(fromLittleEndian bytes: UnsafeRawBufferPointer) -> [Float] {
        let n = bytes.count / 2
        return [Float](unsafeUninitializedCapacity: n) { out, initialized in
            for i in 0..<n {
                let lo = UInt16(bytes[2 * i]), hi = UInt16(bytes[2 * i + 1])
                out[i] = float(fromBits: lo | hi << 8)
            }
            initialized = n
        }
    }

    public static func littleEndianBytes(_ values: [Float]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: values.count * 2)
        for (i, v) in values.enumerated() {
            let b = bits(from: v)
            out[2 * i] = UInt8(truncatingIfNeeded: b)
            out[2 * i + 1] = UInt8(truncatingIfNeeded: b >> 8)
        }
        return out
    }
}
