import Foundation

/// The DINOv2 image augmentations, each a pure function of its inputs and an `AugmentRNG`.
///
/// They follow torchvision's tensor semantics (`torchvision.transforms.v2.functional`) on
/// float images in [0, 1]; unlike DINOv2's PIL pipeline, nothing is rounded to 8 bits
/// between steps. The colour operations expect RGB (3 channels); on grey images saturation
/// and hue leave the image unchanged, as torchvision does.
public enum Augment {
    /// torchvision `RandomResizedCrop.get_params`: up to 10 tries of an area fraction drawn
    /// from `scale` and a log-uniform aspect ratio from `ratio`; when none fits, the largest
    /// centred crop whose aspect ratio lies in `ratio`.
    public static func randomResizedCropRegion(height: Int, width: Int, scale: ClosedRange<Double>,
                                               ratio: ClosedRange<Double> = (3.0 / 4.0)...(4.0 / 3.0),
                                               rng: inout AugmentRNG) -> PixelRegion {
        let area = Double(height * width)
        let logRatio = (log(ratio.lowerBound), log(ratio.upperBound))
        for _ in 0..<10 {
            let targetArea = area * rng.uniform(scale.lowerBound, scale.upperBound)
            let aspect = exp(rng.uniform(logRatio.0, logRatio.1))
            let w = Int((targetArea * aspect).squareRoot().rounded(.toNearestOrEven))
            let h = Int((targetArea / aspect).squareRoot().rounded(.toNearestOrEven))
            if w > 0, w <= width, h > 0, h <= height {
                let top = rng.int(below: height - h + 1)
                let left = rng.int(below: width - w + 1)
                return PixelRegion(top: top, left: left, height: h, width: w)
            }
        }
        let inRatio = Double(width) / Double(height)
        var (w, h) = (width, height)
        if inRatio < ratio.lowerBound {
            h = max(1, min(height, Int((Double(w) / ratio.lowerBound).rounded(.toNearestOrEven))))
        } else if inRatio > ratio.upperBound {
            w = max(1, min(width, Int((Double(h) * ratio.upperBound).rounded(.toNearestOrEven))))
        }
        return PixelRegion(top: (height - h) / 2, left: (width - w) / 2, height: h, width: w)
    }

    /// `RandomResizedCrop(size, scale, ratio, interpolation)`: a random region resized to
    /// `size` x `size`. `antialias` as torchvision's default (Pillow-style resampling).
    ///
    /// The result is clamped to [0, 1], as DINOv2's crops are: they are Pillow images, whose
    /// bicubic resampling rounds and clips to 0...255. Unclamped, bicubic overshoot leaves values
    /// below 0 next to dark edges, and a pixel whose largest channel is exactly 0 while another is
    /// negative made the hue jitter divide 0 by 0 (a NaN crop, then a NaN loss).
    public static func randomResizedCrop(_ image: ImageTensor, size: Int, scale: ClosedRange<Double>,
                                         ratio: ClosedRange<Double> = (3.0 / 4.0)...(4.0 / 3.0),
                                         filter: ResizeFilter = .bicubic, antialias: Bool = true,
                                         rng: inout AugmentRNG) -> ImageTensor {
        let region = randomResizedCropRegion(height: image.height, width: image.width, scale: scale, ratio: ratio, rng: &rng)
        var out = Resize.resize(image, height: size, width: size, filter: filter, antialias: antialias, region: region)
        out.data.withUnsafeMutableBufferPointer { d in
            for i in d.indices { d[i] = min(max(d[i], 0), 1) }
        }
        return out
    }

    /// Mirrors left and right.
    public static func horizontalFlip(_ image: inout ImageTensor) {
        let w = image.width
        image.data.withUnsafeMutableBufferPointer { d in
            for row in 0..<(image.channels * image.height) {
                var a = row * w, b = a + w - 1
                while a < b { d.swapAt(a, b); a += 1; b -= 1 }
            }
        }
    }

    /// Luma as torchvision's `rgb_to_grayscale`: 0.2989 R + 0.587 G + 0.114 B.
    public static func luma(_ image: ImageTensor) -> [Float] {
        guard image.channels == 3 else { return Array(image.data[0..<image.planeSize]) }
        let n = image.planeSize
        var out = [Float](repeating: 0, count: n)
        image.data.withUnsafeBufferPointer { d in
            for i in 0..<n { out[i] = 0.2989 * d[i] + 0.587 * d[n + i] + 0.114 * d[2 * n + i] }
        }
        return out
    }

    /// `RandomGrayscale`'s effect: every channel set to the luma (the image stays 3 channels).
    public static func grayscale(_ image: inout ImageTensor) {
        guard image.channels == 3 else { return }
        let l = luma(image)
        let n = image.planeSize
        for c in 0..<3 { image.data.replaceSubrange((c * n)..<((c + 1) * n), with: l) }
    }

    /// `adjust_brightness`: x * factor, clamped to [0, 1].
    public static func adjustBrightness(_ image: inout ImageTensor, _ factor: Float) {
        for i in image.data.indices { image.data[i] = min(max(image.data[i] * factor, 0), 1) }
    }

    /// `adjust_contrast`: blend with the mean luma of the whole image, clamped.
    public static func adjustContrast(_ image: inout ImageTensor, _ factor: Float) {
        let l = luma(image)
        let mean = Float(l.reduce(0.0) { $0 + Double($1) } / Double(max(l.count, 1)))
        let bias = (1 - factor) * mean
        for i in image.data.indices { image.data[i] = min(max(factor * image.data[i] + bias, 0), 1) }
    }

    /// `adjust_saturation`: blend each pixel with its luma, clamped.
    public static func adjustSaturation(_ image: inout ImageTensor, _ factor: Float) {
        guard image.channels == 3 else { return }
        let l = luma(image)
        let n = image.planeSize
        image.data.withUnsafeMutableBufferPointer { d in
            for c in 0..<3 {
                for i in 0..<n {
                    d[c * n + i] = min(max(factor * d[c * n + i] + (1 - factor) * l[i], 0), 1)
                }
            }
        }
    }

    /// `adjust_hue`: rotate the hue by `factor` turns (in [-0.5, 0.5]) in HSV space.
    public static func adjustHue(_ image: inout ImageTensor, _ factor: Float) {
        guard image.channels == 3 else { return }
        let n = image.planeSize
        image.data.withUnsafeMutableBufferPointer { d in
            for i in 0..<n {
                var (h, s, v) = rgbToHSV(d[i], d[n + i], d[2 * n + i])
                h += factor
                h -= h.rounded(.down)  // Python's floor modulo, as torch's `% 1.0`
                (d[i], d[n + i], d[2 * n + i]) = hsvToRGB(h, s, v)
            }
        }
    }

    /// torchvision `_rgb2hsv`: hue in [0, 1).
    static func rgbToHSV(_ r: Float, _ g: Float, _ b: Float) -> (Float, Float, Float) {
        let maxc = max(r, g, b), minc = min(r, g, b)
        let eq = maxc == minc
        let cr = maxc - minc
        let s = cr / (eq ? 1 : maxc)
        let div = eq ? 1 : cr
        let rc = (maxc - r) / div, gc = (maxc - g) / div, bc = (maxc - b) / div
        var h: Float
        if maxc == r { h = bc - gc } else if maxc == g { h = 2 + rc - bc } else { h = 4 + gc - rc }
        h = h / 6 + 1
        h -= h.rounded(.down)
        return (h, s, maxc)
    }

    /// torchvision `_hsv2rgb`.
    static func hsvToRGB(_ h: Float, _ s: Float, _ v: Float) -> (Float, Float, Float) {
        let h6 = h * 6
        let fi = h6.rounded(.down)
        let f = h6 - fi
        let i = ((Int(fi) % 6) + 6) % 6
        let p = min(max(v * (1 - s), 0), 1)
        let q = min(max(v * (1 - s * f), 0), 1)
        let t = min(max(v * (1 - s * (1 - f)), 0), 1)
        switch i {
        case 0: return (v, t, p)
        case 1: return (q, v, p)
        case 2: return (p, v, t)
        case 3: return (p, q, v)
        case 4: return (t, p, v)
        default: return (v, p, q)
        }
    }

    /// `RandomSolarize`'s effect: values at or above `threshold` become 1 - x. The default is
    /// DINOv2's threshold 128 of 255.
    public static func solarize(_ image: inout ImageTensor, threshold: Float = 128.0 / 255.0) {
        for i in image.data.indices where image.data[i] >= threshold { image.data[i] = 1 - image.data[i] }
    }

    /// torchvision `GaussianBlur(kernel_size, sigma)` on tensors: the normalised kernel
    /// exp(-x²/2σ²) at x = -k/2...k/2, applied separably with reflect padding.
    public static func gaussianBlur(_ image: inout ImageTensor, sigma: Double, kernelSize: Int = 9) {
        precondition(kernelSize > 0 && kernelSize % 2 == 1 && sigma > 0, "gaussianBlur kernel \(kernelSize) sigma \(sigma)")
        let half = kernelSize / 2
        var k = (0..<kernelSize).map { i -> Double in
            let x = Double(i - half)
            return exp(-0.5 * (x / sigma) * (x / sigma))
        }
        let total = k.reduce(0, +)
        k = k.map { $0 / total }
        let kf = k.map(Float.init)
        let (h, w) = (image.height, image.width)
        let xIndex = (0..<(w * kernelSize)).map { reflect($0 / kernelSize + $0 % kernelSize - half, w) }
        let yIndex = (0..<(h * kernelSize)).map { reflect($0 / kernelSize + $0 % kernelSize - half, h) }
        var tmp = [Float](repeating: 0, count: h * w)
        if image.data.isEmpty { return }  // no pixels to blur; otherwise neither buffer is empty
        image.data.withUnsafeMutableBufferPointer { pixels in
            tmp.withUnsafeMutableBufferPointer { t in
                guard let d = pixels.baseAddress, let tb = t.baseAddress else { preconditionFailure("gaussianBlur: empty buffer") }
                xIndex.withUnsafeBufferPointer { xi in
                    yIndex.withUnsafeBufferPointer { yi in
                        kf.withUnsafeBufferPointer { kw in
                            for c in 0..<image.channels {
                                let plane = d + c * h * w
                                for y in 0..<h {
                                    let row = plane + y * w
                                    for x in 0..<w {
                                        var acc: Float = 0
                                        for j in 0..<kernelSize { acc += kw[j] * row[xi[x * kernelSize + j]] }
                                        t[y * w + x] = acc
                                    }
                                }
                                for y in 0..<h {
                                    let orow = plane + y * w
                                    orow.update(repeating: 0, count: w)
                                    for j in 0..<kernelSize {
                                        let trow = tb + yi[y * kernelSize + j] * w
                                        let kj = kw[j]
                                        for x in 0..<w { orow[x] += kj * trow[x] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// PyTorch "reflect" padding (mirror without repeating the edge), repeated as needed.
    static func reflect(_ i: Int, _ n: Int) -> Int {
        if n == 1 { return 0 }
        let period = 2 * (n - 1)
        var j = i % period
        if j < 0 { j += period }
        return j < n ? j : period - j
    }
}
