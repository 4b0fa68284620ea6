/// An image as floats: planar CHW, row-major, values in [0, 1] (before normalisation).
///
/// `data[c * height * width + y * width + x]` is channel `c` of pixel (x, y).
/// Channels are RGB (3) or grey (1); after `ImageNetNormalization.apply` values leave [0, 1].
public struct ImageTensor: Equatable, Sendable {
    public var channels: Int
    public var height: Int
    public var width: Int
    /// `channels * height * width` values, planar (all of R, then G, then B).
    public var data: [Float]

    /// An image filled with `value`.
    public init(channels: Int, height: Int, width: Int, value: Float = 0) {
        self.channels = channels
        self.height = height
        self.width = width
        data = [Float](repeating: value, count: channels * height * width)
    }

    /// Wraps existing planar data; `data.count` must be `channels * height * width`.
    public init(channels: Int, height: Int, width: Int, data: [Float]) {
        precondition(data.count == channels * height * width, "ImageTensor: \(data.count) values for \(channels)x\(height)x\(width)")
        self.channels = channels
        self.height = height
        self.width = width
        self.data = data
    }

    /// Converts interleaved 8-bit pixels (HWC, `channels` per pixel) to planar floats in [0, 1].
    public init(interleaved bytes: [UInt8], channels: Int, height: Int, width: Int) {
        precondition(bytes.count == channels * height * width, "ImageTensor: \(bytes.count) bytes for \(height)x\(width)x\(channels)")
        self.channels = channels
        self.height = height
        self.width = width
        let plane = height * width
        var out = [Float](repeating: 0, count: channels * plane)
        let table = ImageTensor.byteToUnit
        bytes.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                table.withUnsafeBufferPointer { t in
                    if channels == 3 {
                        for p in 0..<plane {
                            dst[p] = t[Int(src[3 * p])]
                            dst[plane + p] = t[Int(src[3 * p + 1])]
                            dst[2 * plane + p] = t[Int(src[3 * p + 2])]
                        }
                    } else {
                        for p in 0..<plane {
                            for c in 0..<channels { dst[c * plane + p] = t[Int(src[p * channels + c])] }
                        }
                    }
                }
            }
        }
        data = out
    }

    /// `Float(b) / 255` for every byte value b (exactly the division, as `ToTensor`).
    static let byteToUnit: [Float] = (0..<256).map { Float($0) / 255 }

    /// Values per channel plane.
    public var planeSize: Int { height * width }

    /// The value of channel `c` at (x, y).
    public subscript(c: Int, y: Int, x: Int) -> Float {
        get { data[(c * height + y) * width + x] }
        set { data[(c * height + y) * width + x] = newValue }
    }

    /// Interleaved 8-bit pixels (HWC): values clamped to [0, 1], times 255, rounded to nearest.
    public func interleavedBytes() -> [UInt8] {
        let plane = planeSize
        var out = [UInt8](repeating: 0, count: channels * plane)
        data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for p in 0..<plane {
                    for c in 0..<channels {
                        let v = min(max(src[c * plane + p], 0), 1) * 255
                        dst[p * channels + c] = UInt8(v + 0.5)
                    }
                }
            }
        }
        return out
    }

    /// A copy with 3 channels: grey is replicated, RGB is returned as is.
    public func rgb() -> ImageTensor {
        if channels == 3 { return self }
        precondition(channels == 1, "ImageTensor.rgb: \(channels) channels")
        return ImageTensor(channels: 3, height: height, width: width, data: data + data + data)
    }

    /// The sub-image of rows `top..<top+height` and columns `left..<left+width` (must lie inside).
    public func cropped(top: Int, left: Int, height h: Int, width w: Int) -> ImageTensor {
        precondition(top >= 0 && left >= 0 && h > 0 && w > 0 && top + h <= height && left + w <= width,
                     "crop \(top),\(left) \(h)x\(w) outside \(height)x\(width)")
        var out = ImageTensor(channels: channels, height: h, width: w)
        for c in 0..<channels {
            for y in 0..<h {
                let src = (c * height + top + y) * width + left
                let dst = (c * h + y) * w
                out.data.replaceSubrange(dst..<(dst + w), with: data[src..<(src + w)])
            }
        }
        return out
    }
}
