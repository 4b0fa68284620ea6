import CTurboJPEG

/// Chroma subsampling for encoding (`TJSAMP_*`).
public struct JPEGSubsampling: RawRepresentable, Equatable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    /// No subsampling (`TJSAMP_444`).
    public static let s444 = JPEGSubsampling(rawValue: Int32(TJSAMP_444.rawValue))
    /// 2x1 (`TJSAMP_422`).
    public static let s422 = JPEGSubsampling(rawValue: Int32(TJSAMP_422.rawValue))
    /// 2x2 (`TJSAMP_420`), what Pillow and most cameras write.
    public static let s420 = JPEGSubsampling(rawValue: Int32(TJSAMP_420.rawValue))
}

/// Owns a libturbojpeg compressor (`tjInitCompress` / `tjDestroy`). Not thread-safe.
public final class JPEGEncoder {
    private var handle: tjhandle?

    public init() throws {
        guard let h = tjInitCompress() else {
            throw JPEGError(code: -1, message: "tjInitCompress failed: \(String(cString: tjGetErrorStr2(nil)))")
        }
        handle = h
    }

    deinit { close() }

    /// Frees the handle; later calls throw. Idempotent.
    public func close() {
        if let handle { tjDestroy(handle) }
        handle = nil
    }

    /// Encodes interleaved 8-bit pixels (`channels` 1 = grey, 3 = RGB) as baseline JPEG
    /// (`tjCompress2`). Greyscale input always writes a one-component file.
    /// Deterministic: the same pixels and settings give the same bytes.
    public func encode(_ pixels: [UInt8], width: Int, height: Int, channels: Int,
                       quality: Int = 90, subsampling: JPEGSubsampling = .s420) throws -> [UInt8] {
        guard let h = handle else { throw JPEGError(code: -1, message: "encoder used after close()") }
        guard width > 0, height > 0, pixels.count == width * height * channels else {
            throw JPEGError(code: -1, message: "pixel buffer of \(pixels.count) bytes does not match \(width)x\(height)x\(channels)")
        }
        guard (1...100).contains(quality) else {
            throw JPEGError(code: -1, message: "quality \(quality) is outside 1...100")
        }
        let format: TJPF
        var sub = subsampling.rawValue
        switch channels {
        case 1: format = TJPF_GRAY; sub = Int32(TJSAMP_GRAY.rawValue)
        case 3: format = TJPF_RGB
        default: throw JPEGError(code: -1, message: "unsupported channel count \(channels) (use 1 or 3)")
        }
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        defer { if let buffer { tjFree(buffer) } }
        let rc = pixels.withUnsafeBufferPointer { src in
            tjCompress2(h, src.baseAddress, Int32(width), 0, Int32(height), Int32(format.rawValue),
                        &buffer, &size, sub, Int32(quality), Int32(TJFLAG_ACCURATEDCT))
        }
        if rc != 0 { throw JPEGError.last(h) }
        guard let buffer else { throw JPEGError(code: -1, message: "tjCompress2 returned no buffer") }
        return Array(UnsafeBufferPointer(start: buffer, count: Int(size)))
    }
}
