import CTurboJPEG

/// The header of a JPEG stream (`tjDecompressHeader3`).
public struct JPEGHeader: Equatable, Sendable {
    public var width: Int
    public var height: Int
    /// Chroma subsampling, a `TJSAMP_*` value (`TJSAMP_GRAY` = 3 for greyscale files).
    public var subsampling: Int32
    /// Colour space, a `TJCS_*` value (`TJCS_CMYK` and `TJCS_YCCK` cannot be decoded to RGB).
    public var colorspace: Int32
}

/// Decoded 8-bit pixels, interleaved (HWC), row-major, `channels` bytes per pixel.
public struct JPEGPixels: Sendable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var bytes: [UInt8]
}

/// Owns a libturbojpeg decompressor (`tjInitDecompress` / `tjDestroy`).
///
/// Not thread-safe: use one decoder per thread. Reusing a decoder across images is cheaper
/// than creating one per image.
public final class JPEGDecoder {
    private var handle: tjhandle?

    public init() throws {
        guard let h = tjInitDecompress() else {
            throw JPEGError(code: -1, message: "tjInitDecompress failed: \(String(cString: tjGetErrorStr2(nil)))")
        }
        handle = h
    }

    deinit { close() }

    /// Frees the handle; later calls throw. Idempotent.
    public func close() {
        if let handle { tjDestroy(handle) }
        handle = nil
    }

    private func live() throws -> tjhandle {
        guard let handle else { throw JPEGError(code: -1, message: "decoder used after close()") }
        return handle
    }

    /// Reads the header only (`tjDecompressHeader3`).
    public func header(_ jpeg: UnsafeRawBufferPointer) throws -> JPEGHeader {
        let h = try live()
        guard let base = jpeg.baseAddress, jpeg.count > 0 else {
            throw JPEGError(code: -1, message: "empty JPEG buffer")
        }
        var w: Int32 = 0, ht: Int32 = 0, sub: Int32 = 0, cs: Int32 = 0
        if tjDecompressHeader3(h, base.assumingMemoryBound(to: UInt8.self), UInt(jpeg.count), &w, &ht, &sub, &cs) != 0 {
            throw JPEGError.last(h)
        }
        return JPEGHeader(width: Int(w), height: Int(ht), subsampling: sub, colorspace: cs)
    }

    /// Decodes to 8-bit RGB (`channels` 3) or greyscale (`channels` 1), interleaved.
    ///
    /// With `strict` (the default) libjpeg's warnings are errors (`TJFLAG_STOPONWARNING`):
    /// a truncated or damaged file throws instead of returning a partly grey image.
    /// Uses the accurate integer DCT (`TJFLAG_ACCURATEDCT`, libjpeg's and Pillow's default).
    /// A header claiming more than `maxPixels` pixels is refused before anything is allocated.
    public func decode(_ jpeg: UnsafeRawBufferPointer, channels: Int = 3, strict: Bool = true,
                       maxPixels: Int = 1 << 28) throws -> JPEGPixels {
        let h = try live()
        let head = try header(jpeg)
        let format: TJPF
        switch channels {
        case 1: format = TJPF_GRAY
        case 3: format = TJPF_RGB
        case 4: format = TJPF_RGBA
        default: throw JPEGError(code: -1, message: "unsupported channel count \(channels) (use 1, 3 or 4)")
        }
        guard head.width > 0, head.height > 0 else {
            throw JPEGError(code: -1, message: "invalid image size \(head.width)x\(head.height)")
        }
        guard head.width * head.height <= maxPixels else {
            throw JPEGError(code: -1, message: "image size \(head.width)x\(head.height) is over the limit of \(maxPixels) pixels")
        }
        var out = [UInt8](repeating: 0, count: head.width * head.height * channels)
        var flags = TJFLAG_ACCURATEDCT
        if strict { flags |= TJFLAG_STOPONWARNING }
        // Neither buffer is empty: `header` refused an empty stream, and the size is positive.
        let rc = jpeg.withMemoryRebound(to: UInt8.self) { src in
            out.withUnsafeMutableBufferPointer { dst in
                tjDecompress2(h, src.baseAddress, UInt(src.count), dst.baseAddress,
                              Int32(head.width), 0, Int32(head.height), Int32(format.rawValue), Int32(flags))
            }
        }
        if rc != 0 {
            let error = JPEGError.last(h)
            if strict || !error.isWarning { throw error }
        }
        return JPEGPixels(width: head.width, height: head.height, channels: channels, bytes: out)
    }

    public func decode(_ jpeg: [UInt8], channels: Int = 3, strict: Bool = true, maxPixels: Int = 1 << 28) throws -> JPEGPixels {
        try jpeg.withUnsafeBytes { try decode($0, channels: channels, strict: strict, maxPixels: maxPixels) }
    }
}
