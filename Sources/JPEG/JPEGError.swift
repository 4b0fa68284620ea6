import CTurboJPEG

/// An error from libturbojpeg: `tjGetErrorCode` and `tjGetErrorStr2`'s text.
///
/// `code` is `TJERR_WARNING` (0) or `TJERR_FATAL` (1). A warning is only thrown when the
/// decoder was asked to be strict (the default): libjpeg reports a truncated file
/// ("Premature end of JPEG file") as a warning and would otherwise return a grey-filled image.
public struct JPEGError: Error, CustomStringConvertible {
    /// `TJERR_WARNING` (0) or `TJERR_FATAL` (1); -1 for errors raised by this wrapper.
    public var code: Int32
    public var message: String

    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    public var isWarning: Bool { code == Int32(TJERR_WARNING.rawValue) }
    public var description: String { "libjpeg-turbo: \(message)" }

    /// The last error recorded on `handle`.
    static func last(_ handle: tjhandle?) -> JPEGError {
        let text = tjGetErrorStr2(handle).map { String(cString: $0) } ?? "unknown error"
        return JPEGError(code: tjGetErrorCode(handle), message: text)
    }
}
