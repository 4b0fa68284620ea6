import CPNG

/// Decoded 8-bit pixels, interleaved (HWC), row-major.
///
/// `channels`: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA.
public struct PNGPixels: Sendable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var bytes: [UInt8]
}

/// What a PNG file holds, from its header (`png_image_begin_read_from_memory`).
public struct PNGHeader: Equatable, Sendable {
    public var width: Int
    public var height: Int
    /// Channels of the file's own colour model: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA
    /// (palette files count as RGB, or RGBA when they carry transparency).
    public var channels: Int
    /// True for 16-bit samples (reduced to 8 bits by `decode`).
    public var is16Bit: Bool

    public init(width: Int, height: Int, channels: Int, is16Bit: Bool) {
        self.width = width
        self.height = height
        self.channels = channels
        self.is16Bit = is16Bit
    }
}

/// PNG decoding and encoding through libpng's simplified API (`png_image_*`).
public enum PNG {
    /// The 8 bytes every PNG file starts with.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Reads the header only.
    public static func header(_ png: [UInt8]) throws -> PNGHeader {
        let handle = PNGImage()
        try png.withUnsafeBytes { raw in
            try handle.check(png_image_begin_read_from_memory(handle.image, raw.baseAddress, raw.count))
        }
        return header(of: handle)
    }

    private static func header(of handle: PNGImage) -> PNGHeader {
        let f = handle.image.pointee.format
        let color = f & PNG_FORMAT_FLAG_COLOR != 0
        let alpha = f & PNG_FORMAT_FLAG_ALPHA != 0
        return PNGHeader(width: Int(handle.image.pointee.width), height: Int(handle.image.pointee.height),
                         channels: (color ? 3 : 1) + (alpha ? 1 : 0),
                         is16Bit: f & PNG_FORMAT_FLAG_LINEAR != 0)
    }

    /// Decodes to 8-bit pixels with `channels` (1...4) or, when nil, the file's own channels.
    ///
    /// Palette, low-bit-depth and 16-bit files are expanded or reduced to 8 bits per sample.
    /// 16-bit samples without a gAMA or sRGB chunk are taken as sRGB-encoded
    /// (`PNG_IMAGE_FLAG_16BIT_sRGB`), so they are scaled, not gamma-converted, as Pillow does.
    /// Asking for fewer channels than the file has lets libpng convert: colour to grey uses
    /// libpng's linear-light weights, and removing alpha composites onto black. To drop alpha
    /// or convert to grey like Pillow, decode with `channels: nil` and convert yourself.
    /// A header claiming more than `maxPixels` pixels is refused before anything is allocated.
    public static func decode(_ png: [UInt8], channels: Int? = nil, maxPixels: Int = 1 << 28) throws -> PNGPixels {
        let handle = PNGImage()
        return try png.withUnsafeBytes { raw -> PNGPixels in
            // libpng reads from `raw` until finish_read: both calls stay inside this closure.
            guard raw.count > 0 else { throw PNGError(code: -1, message: "empty PNG buffer") }
            try handle.check(png_image_begin_read_from_memory(handle.image, raw.baseAddress, raw.count))
            let head = header(of: handle)
            let want = channels ?? head.channels
            let format: png_uint_32
            switch want {
            case 1: format = 0
            case 2: format = PNG_FORMAT_FLAG_ALPHA
            case 3: format = PNG_FORMAT_FLAG_COLOR
            case 4: format = PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA
            default: throw PNGError(code: -1, message: "unsupported channel count \(want) (use 1...4)")
            }
            let (w, h) = (head.width, head.height)
            // Guard against absurd headers before allocating (libpng allows 2^31-1 per side).
            guard w > 0, h > 0, w <= maxPixels, h <= maxPixels, w * h <= maxPixels else {
                throw PNGError(code: -1, message: "image size \(w)x\(h) is over the limit of \(maxPixels) pixels")
            }
            handle.image.pointee.format = format
            handle.image.pointee.flags |= png_uint_32(PNG_IMAGE_FLAG_16BIT_sRGB)
            var out = [UInt8](repeating: 0, count: w * h * want)
            let ok = out.withUnsafeMutableBytes { dst in
                png_image_finish_read(handle.image, nil, dst.baseAddress, 0, nil)
            }
            try handle.check(ok)
            return PNGPixels(width: w, height: h, channels: want, bytes: out)
        }
    }

    /// Encodes interleaved 8-bit pixels (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) as a PNG
    /// (`png_image_write_to_memory`). Deterministic: no timestamps are written.
    public static func encode(_ pixels: [UInt8], width: Int, height: Int, channels: Int) throws -> [UInt8] {
        guard (1...4).contains(channels) else {
            throw PNGError(code: -1, message: "unsupported channel count \(channels) (use 1...4)")
        }
        guard width > 0, height > 0, pixels.count == width * height * channels else {
            throw PNGError(code: -1, message: "pixel buffer of \(pixels.count) bytes does not match \(width)x\(height)x\(channels)")
        }
        let formats: [png_uint_32] = [0, PNG_FORMAT_FLAG_ALPHA, PNG_FORMAT_FLAG_COLOR,
                                      PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA]
        var capacity = pixels.count + pixels.count / 8 + height + 1024
        for _ in 0..<2 {
            let handle = PNGImage()
            handle.image.pointee.width = png_uint_32(width)
            handle.image.pointee.height = png_uint_32(height)
            handle.image.pointee.format = formats[channels - 1]
            var out = [UInt8](repeating: 0, count: capacity)
            var size = png_alloc_size_t(capacity)
            let ok = out.withUnsafeMutableBytes { dst in
                pixels.withUnsafeBytes { src in
                    png_image_write_to_memory(handle.image, dst.baseAddress, &size, 0, src.baseAddress, 0, nil)
                }
            }
            if ok != 0 {
                out.removeSubrange(Int(size)...)
                return out
            }
            // Too small a buffer: libpng reports the size it needs and sets no error.
            guard Int(size) > capacity else { throw handle.error }
            capacity = Int(size)
        }
        throw PNGError(code: -1, message: "png_image_write_to_memory kept asking for a larger buffer")
    }
}
