/// The interpolation kernel of a resize.
public enum ResizeFilter: String, Sendable {
    case bilinear, bicubic
}

/// A rectangle of pixels: rows `top..<top+height`, columns `left..<left+width`.
public struct PixelRegion: Equatable, Sendable {
    public var top: Int, left: Int, height: Int, width: Int
    public init(top: Int, left: Int, height: Int, width: Int) {
        self.top = top
        self.left = left
        self.height = height
        self.width = width
    }
}

/// Image resizing with PyTorch's `F.interpolate` semantics (`align_corners=False`).
///
/// - `antialias: false` (the default) is `F.interpolate(mode="bilinear"|"bicubic")`: bicubic
///   uses Keys' kernel with a = -0.75, taps clamped at the border; bilinear clamps negative
///   source coordinates to 0. Downscaling aliases.
/// - `antialias: true` is `F.interpolate(..., antialias=True)`, i.e. Pillow's resampling
///   (and torchvision's `resize` default): the kernel is widened by the downscale factor and
///   renormalised at the borders; bicubic then uses a = -0.5, as Pillow does.
///
/// Filters are separable: a horizontal pass, then a vertical pass, accumulated in Float.
public enum Resize {
    public static func bilinear(_ image: ImageTensor, height: Int, width: Int, antialias: Bool = false) -> ImageTensor {
        resize(image, height: height, width: width, filter: .bilinear, antialias: antialias)
    }

    public static func bicubic(_ image: ImageTensor, height: Int, width: Int, antialias: Bool = false) -> ImageTensor {
        resize(image, height: height, width: width, filter: .bicubic, antialias: antialias)
    }

    /// Resizes `region` of `image` (all of it when nil) to `height` x `width`.
    ///
    /// `scale` overrides the source-pixels-per-output-pixel factors (PyTorch's `1/scale_factor`
    /// when `interpolate` is called with `scale_factor`), e.g. for DINOv2's pos-embed
    /// "+0.1 offset" interpolation; by default they are input size / output size.
    public static func resize(_ image: ImageTensor, height: Int, width: Int, filter: ResizeFilter,
                              antialias: Bool = false, region: PixelRegion? = nil,
                              scale: (y: Double, x: Double)? = nil) -> ImageTensor {
        let r = region ?? PixelRegion(top: 0, left: 0, height: image.height, width: image.width)
        precondition(height > 0 && width > 0, "Resize to \(height)x\(width)")
        precondition(r.top >= 0 && r.left >= 0 && r.height > 0 && r.width > 0
                     && r.top + r.height <= image.height && r.left + r.width <= image.width,
                     "Resize region \(r) outside \(image.height)x\(image.width)")
        let xs = ResizeTaps(input: r.width, output: width, offset: r.left, filter: filter, antialias: antialias,
                            scale: scale?.x ?? Double(r.width) / Double(width))
        let ys = ResizeTaps(input: r.height, output: height, offset: r.top, filter: filter, antialias: antialias,
                            scale: scale?.y ?? Double(r.height) / Double(height))
        var out = ImageTensor(channels: image.channels, height: height, width: width)
        if image.channels == 0 { return out }  // no planes; otherwise no buffer below is empty
        // Horizontal pass over the region's rows: [r.height, width] per channel.
        var mid = [Float](repeating: 0, count: r.height * width)
        let (kx, ky) = (xs.count, ys.count)
        image.data.withUnsafeBufferPointer { srcBuffer in
            out.data.withUnsafeMutableBufferPointer { dstBuffer in
                mid.withUnsafeMutableBufferPointer { tmpBuffer in
                    guard let src = srcBuffer.baseAddress, let dst = dstBuffer.baseAddress,
                          let tmp = tmpBuffer.baseAddress else { preconditionFailure("Resize: empty plane buffer") }
                    xs.indices.withUnsafeBufferPointer { xi in
                        xs.weights.withUnsafeBufferPointer { xw in
                            ys.indices.withUnsafeBufferPointer { yi in
                                ys.weights.withUnsafeBufferPointer { yw in
                                    for c in 0..<image.channels {
                                        let plane = src + c * image.planeSize
                                        for y in 0..<r.height {
                                            let row = plane + (r.top + y) * image.width
                                            let trow = tmp + y * width
                                            for x in 0..<width {
                                                var acc: Float = 0
                                                let base = x * kx
                                                for k in 0..<kx { acc += xw[base + k] * row[xi[base + k]] }
                                                trow[x] = acc
                                            }
                                        }
                                        // Vertical pass: rows of `tmp` are region rows (indices relative to r.top).
                                        let outPlane = dst + c * height * width
                                        for y in 0..<height {
                                            let orow = outPlane + y * width
                                            orow.update(repeating: 0, count: width)
                                            for k in 0..<ky {
                                                let w = yw[y * ky + k]
                                                if w == 0 { continue }
                                                let trow = tmp + (yi[y * ky + k] - r.top) * width
                                                for x in 0..<width { orow[x] += w * trow[x] }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}

/// For each output index along one axis, `count` (source index, weight) taps.
/// Source indices include `offset`; unused taps have weight 0.
struct ResizeTaps {
    var count: Int
    var indices: [Int]
    var weights: [Float]

    init(input: Int, output: Int, offset: Int, filter: ResizeFilter, antialias: Bool, scale: Double) {
        if antialias {
            // PyTorch `_upsample_*_aa` / Pillow `precompute_coeffs`.
            let interpSize = filter == .bicubic ? 4.0 : 2.0
            let support = interpSize / 2 * (scale >= 1 ? scale : 1)
            let invscale = scale >= 1 ? 1 / scale : 1
            count = Int(support.rounded(.up)) * 2 + 1
            indices = [Int](repeating: offset, count: output * count)
            weights = [Float](repeating: 0, count: output * count)
            var w = [Double](repeating: 0, count: count)
            for i in 0..<output {
                let center = scale * (Double(i) + 0.5)
                let xmin = max(Int(center - support + 0.5), 0)
                let xsize = min(Int(center + support + 0.5), input) - xmin
                var total = 0.0
                for j in 0..<min(max(xsize, 0), count) {
                    let v = ResizeTaps.kernel(filter, (Double(j + xmin) - center + 0.5) * invscale, a: -0.5)
                    w[j] = v
                    total += v
                }
                for j in 0..<min(max(xsize, 0), count) {
                    indices[i * count + j] = offset + xmin + j
                    weights[i * count + j] = Float(total != 0 ? w[j] / total : 0)
                }
            }
        } else if filter == .bicubic {
            // PyTorch `upsample_bicubic2d`: 4 taps, a = -0.75, indices clamped to the edge.
            count = 4
            indices = [Int](repeating: 0, count: output * 4)
            weights = [Float](repeating: 0, count: output * 4)
            for i in 0..<output {
                let real = scale * (Double(i) + 0.5) - 0.5
                let x0 = Int(real.rounded(.down))
                let t = real - Double(x0)
                for k in 0..<4 {
                    indices[i * 4 + k] = offset + min(max(x0 - 1 + k, 0), input - 1)
                    weights[i * 4 + k] = Float(ResizeTaps.kernel(.bicubic, t + 1 - Double(k), a: -0.75))
                }
            }
        } else {
            // PyTorch `upsample_bilinear2d`: source coordinate clamped at 0.
            count = 2
            indices = [Int](repeating: 0, count: output * 2)
            weights = [Float](repeating: 0, count: output * 2)
            for i in 0..<output {
                let real = max(scale * (Double(i) + 0.5) - 0.5, 0)
                let x0 = min(Int(real), input - 1)
                let x1 = x0 + (x0 < input - 1 ? 1 : 0)
                let l1 = real - Double(x0)
                indices[i * 2] = offset + x0
                indices[i * 2 + 1] = offset + x1
                weights[i * 2] = Float(1 - l1)
                weights[i * 2 + 1] = Float(l1)
            }
        }
    }

    /// The interpolation kernel at distance `x`: triangle, or Keys' cubic with parameter `a`.
    static func kernel(_ filter: ResizeFilter, _ x: Double, a: Double) -> Double {
        let x = abs(x)
        switch filter {
        case .bilinear:
            return x < 1 ? 1 - x : 0
        case .bicubic:
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
            return 0
        }
    }
}
