import CPNG

/// An error from libpng's simplified API: `png_image.warning_or_error` and its `message`.
///
/// `code` is `PNG_IMAGE_ERROR` (2) for libpng failures (a warning alone never throws),
/// or -1 for errors raised by this wrapper (bad arguments).
public struct PNGError: Error, CustomStringConvertible {
    public var code: Int32
    public var message: String
    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { "libpng: \(message)" }
}

/// Owns one `png_image` and the libpng state behind its `opaque` pointer (`png_image_free`).
///
/// libpng keeps a pointer to the `png_image` itself (as its error context), so the struct
/// lives at a fixed heap address for the handle's lifetime. Not thread-safe.
final class PNGImage {
    let image: UnsafeMutablePointer<png_image>

    init() {
        image = .allocate(capacity: 1)
        image.initialize(to: png_image())
        image.pointee.version = png_uint_32(PNG_IMAGE_VERSION)
    }

    deinit {
        png_image_free(image)
        image.deinitialize(count: 1)
        image.deallocate()
    }

    /// The error libpng recorded in the struct.
    var error: PNGError {
        var text = withUnsafeBytes(of: image.pointee.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if text.isEmpty { text = "unknown error" }
        return PNGError(code: Int32(image.pointee.warning_or_error & 3), message: text)
    }

    /// Throws the recorded error when a libpng call returned 0 (failure).
    func check(_ ok: Int32) throws {
        if ok == 0 { throw error }
    }
}
