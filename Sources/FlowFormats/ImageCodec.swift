import JPEG
import PNG

/// Which codec an encoded image uses, from its first bytes.
public enum ImageFormat: String, Sendable {
    case jpeg, png

    /// JPEG (`FF D8 FF`) or PNG (the 8-byte signature); nil for anything else.
    public static func sniff(_ bytes: [UInt8]) -> ImageFormat? {
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        if bytes.count >= 8, Array(bytes[0..<8]) == PNG.signature { return .png }
        return nil
    }
}

/// Decodes JPEG and PNG bytes into `ImageTensor`s and encodes them back.
///
/// A `ImageDecoder` keeps a libjpeg-turbo handle for reuse: use one per thread when decoding
/// many images. The static `ImageCodec` functions create a decoder per call.
public final class ImageDecoder {
    private let jpeg: JPEGDecoder

    /// Images with more pixels than this (64 megapixels: 768 MiB as float RGB) are refused
    /// before decoding, so a corrupt or hostile header cannot exhaust memory.
    public var maxPixels = 1 << 26

    public init() throws {
        do { jpeg = try JPEGDecoder() } catch let e as JPEGError {
            throw ImageError(source: .jpeg, code: e.code, message: e.message)
        }
    }

    /// Decodes by magic number (the hint, an extension such as "jpg", only words the error
    /// when the bytes are neither). Grey, RGB and RGBA 8-bit files, and 16-bit PNGs (reduced
    /// to 8 bits), become `channels` 3 (RGB; grey replicated; alpha dropped, as Pillow's
    /// `convert("RGB")`) or `channels` 1 (grey, Pillow's "L" weights 0.299/0.587/0.114).
    /// Throws `ImageError`; attach the sample with `in(key:shard:)`.
    public func decode(_ bytes: [UInt8], hint ext: String? = nil, channels: Int = 3) throws -> ImageTensor {
        guard channels == 1 || channels == 3 else {
            throw ImageError(source: .flow, code: -1, message: "cannot decode to \(channels) channels (use 1 or 3)")
        }
        switch ImageFormat.sniff(bytes) {
        case .jpeg:
            do {
                let px = try jpeg.decode(bytes, channels: channels, maxPixels: maxPixels)
                return ImageTensor(interleaved: px.bytes, channels: channels, height: px.height, width: px.width)
            } catch let e as JPEGError {
                throw ImageError(source: .jpeg, code: e.code, message: e.message)
            }
        case .png:
            let px: PNGPixels
            do { px = try PNG.decode(bytes, maxPixels: maxPixels) } catch let e as PNGError {
                throw ImageError(source: .png, code: e.code, message: e.message)
            }
            return Self.convert(px.bytes, from: px.channels, to: channels, height: px.height, width: px.width)
        case nil:
            let head = bytes.prefix(8).map { String($0, radix: 16) }.joined(separator: " ")
            let claimed = ext.map { " (entry claims .\($0))" } ?? ""
            throw ImageError(source: .flow, code: -1,
                             message: "neither JPEG nor PNG\(claimed): \(bytes.count) bytes starting [\(head)]")
        }
    }

    /// Interleaved 8-bit grey / grey+alpha / RGB / RGBA to a planar tensor of 1 or 3 channels.
    static func convert(_ bytes: [UInt8], from n: Int, to channels: Int, height: Int, width: Int) -> ImageTensor {
        if n == channels { return ImageTensor(interleaved: bytes, channels: n, height: height, width: width) }
        let plane = height * width
        var out = ImageTensor(channels: channels, height: height, width: width)
        bytes.withUnsafeBufferPointer { src in
            out.data.withUnsafeMutableBufferPointer { dst in
                for p in 0..<plane {
                    let s = p * n
                    if n <= 2 {  // grey (+ alpha)
                        let v = Float(src[s]) / 255
                        for c in 0..<channels { dst[c * plane + p] = v }
                    } else if channels == 3 {
                        dst[p] = Float(src[s]) / 255
                        dst[plane + p] = Float(src[s + 1]) / 255
                        dst[2 * plane + p] = Float(src[s + 2]) / 255
                    } else {
                        // Pillow's ImagingConvert rgb2l, in fixed point.
                        let l = (UInt32(src[s]) * 19595 + UInt32(src[s + 1]) * 38470 + UInt32(src[s + 2]) * 7471 + 0x8000) >> 16
                        dst[p] = Float(l) / 255
                    }
                }
            }
        }
        return out
    }
}

/// One-call decoding and encoding. See `ImageDecoder` for decoding many images.
public enum ImageCodec {
    /// Decodes JPEG or PNG by magic into 3 channels RGB (or 1 grey); throws `ImageError`.
    public static func decode(_ bytes: [UInt8], hint ext: String? = nil, channels: Int = 3) throws -> ImageTensor {
        try ImageDecoder().decode(bytes, hint: ext, channels: channels)
    }

    /// Decodes and, on failure, names the sample and shard in the error.
    public static func decode(_ bytes: [UInt8], hint ext: String? = nil, key: String, shard: String) throws -> ImageTensor {
        do { return try decode(bytes, hint: ext) } catch let e as ImageError { throw e.in(key: key, shard: shard) }
    }

    /// Lossless 8-bit PNG of a 1- or 3-channel image (values clamped to [0, 1] and rounded).
    public static func encodePNG(_ image: ImageTensor) throws -> [UInt8] {
        try checkEncodable(image)
        do {
            return try PNG.encode(image.interleavedBytes(), width: image.width, height: image.height, channels: image.channels)
        } catch let e as PNGError {
            throw ImageError(source: .png, code: e.code, message: e.message)
        }
    }

    /// Baseline JPEG (4:2:0 chroma subsampling, like Pillow's default) of a 1- or 3-channel image.
    public static func encodeJPEG(_ image: ImageTensor, quality: Int = 90) throws -> [UInt8] {
        try checkEncodable(image)
        do {
            return try JPEGEncoder().encode(image.interleavedBytes(), width: image.width, height: image.height,
                                            channels: image.channels, quality: quality)
        } catch let e as JPEGError {
            throw ImageError(source: .jpeg, code: e.code, message: e.message)
        }
    }

    private static func checkEncodable(_ image: ImageTensor) throws {
        guard image.channels == 1 || image.channels == 3, image.width > 0, image.height > 0,
              image.data.count == image.channels * image.height * image.width else {
            throw ImageError(source: .flow, code: -1,
                             message: "cannot encode a \(image.channels)x\(image.height)x\(image.width) image with \(image.data.count) values")
        }
    }
}
