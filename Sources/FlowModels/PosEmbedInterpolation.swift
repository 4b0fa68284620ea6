/// Resizing of the learned position-embedding grid to another patch grid, with PyTorch's
/// `F.interpolate(mode="bicubic")` semantics, as DINOv2's `interpolate_pos_encoding`.
///
/// Two variants, chosen by the model (see `ViTConfig.interpolateAntialias`):
/// - plain bicubic (align_corners=False, A = -0.75, edge indices clamped), driven by
///   scale factors (out + offset) / M when `offset` > 0 (the "0.1 kludge"), else by sizes;
/// - antialiased bicubic (`antialias=True`, as the reg4 models use): Pillow's separable
///   filter with A = -0.5 whose support widens by in/out when shrinking, weights normalised.
public enum PosEmbedInterpolation {
    /// Resizes `grid`, [inH, inW, dim] (dim contiguous), to [outH, outW, dim].
    public static func resize(_ grid: [Float], inHeight: Int, inWidth: Int, dim: Int,
                              outHeight: Int, outWidth: Int, offset: Float, antialias: Bool) -> [Float] {
        // Scale factors as interpolate() receives them; nil when it is given a size instead.
        let sh: Double? = offset > 0 ? Double(Float(outHeight) + offset) / Double(inHeight) : nil
        let sw: Double? = offset > 0 ? Double(Float(outWidth) + offset) / Double(inWidth) : nil
        let wy = antialias ? antialiasWeights(inHeight, outHeight, sh) : cubicWeights(inHeight, outHeight, sh)
        let wx = antialias ? antialiasWeights(inWidth, outWidth, sw) : cubicWeights(inWidth, outWidth, sw)
        // Rows first, then columns (separable).
        var rows = [Float](repeating: 0, count: outHeight * inWidth * dim)
        for oy in 0..<outHeight {
            for (iy, w) in wy[oy] {
                for ix in 0..<inWidth {
                    let src = (iy * inWidth + ix) * dim, dst = (oy * inWidth + ix) * dim
                    for c in 0..<dim { rows[dst + c] += w * grid[src + c] }
                }
            }
        }
        var out = [Float](repeating: 0, count: outHeight * outWidth * dim)
        for oy in 0..<outHeight {
            for ox in 0..<outWidth {
                let dst = (oy * outWidth + ox) * dim
                for (ix, w) in wx[ox] {
                    let src = (oy * inWidth + ix) * dim
                    for c in 0..<dim { out[dst + c] += w * rows[src + c] }
                }
            }
        }
        return out
    }

    /// PyTorch's `area_pixel_compute_scale`: 1/scale_factor when given, else in/out (as float).
    static func pixelScale(_ input: Int, _ output: Int, _ scaleFactor: Double?) -> Float {
        if let s = scaleFactor, s > 0 { return Float(1.0 / s) }
        return Float(input) / Float(output)
    }

    /// Plain bicubic taps per output index: 4 (input index, weight) pairs, indices clamped.
    static func cubicWeights(_ input: Int, _ output: Int, _ scaleFactor: Double?) -> [[(Int, Float)]] {
        let scale = pixelScale(input, output, scaleFactor)
        let a: Float = -0.75
        func near(_ x: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }
        func far(_ x: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        return (0..<output).map { i in
            let real = scale * (Float(i) + 0.5) - 0.5
            let index = min(Int(real.rounded(.down)), input - 1)
            let t = min(max(real - Float(index), 0), 1)
            let coefficients = [far(t + 1), near(t), near(1 - t), far(2 - t)]
            return (0..<4).map { j in (min(max(index - 1 + j, 0), input - 1), coefficients[j]) }
        }
    }

    /// Antialiased bicubic taps (Pillow / PyTorch `_upsample_bicubic2d_aa`), normalised to sum 1.
    static func antialiasWeights(_ input: Int, _ output: Int, _ scaleFactor: Double?) -> [[(Int, Float)]] {
        let scale = Double(pixelScale(input, output, scaleFactor))
        let support = scale >= 1 ? 2 * scale : 2
        let invScale = scale >= 1 ? 1 / scale : 1
        func filter(_ v: Double) -> Double {
            let a = -0.5, x = abs(v)
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        }
        return (0..<output).map { i in
            let center = scale * (Double(i) + 0.5)
            let lo = max(Int(center - support + 0.5), 0)
            let hi = min(Int(center + support + 0.5), input)
            var taps = (lo..<max(lo, hi)).map { j in (j, filter((Double(j) - center + 0.5) * invScale)) }
            let total = taps.reduce(0) { $0 + $1.1 }
            if total != 0 { taps = taps.map { ($0.0, $0.1 / total) } }
            return taps.map { ($0.0, Float($0.1)) }
        }
    }
}
