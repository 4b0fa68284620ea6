/// An image that cannot be decoded or encoded, with the codec library's code and message.
///
/// `ImageCodec.decode` knows only the bytes, so it throws an `ImageError` without `key` and
/// `shard`. Callers that read samples from shards attach them with `in(key:shard:)`:
///
///     do { image = try ImageCodec.decode(bytes, hint: "jpg") }
///     catch let e as ImageError { throw e.in(key: sample.key, shard: path) }
///
/// The description then reads `SHARD: sample KEY: cannot decode image: libjpeg-turbo: MESSAGE`.
public struct ImageError: Error, CustomStringConvertible {
    /// Which library (or check) failed.
    public enum Source: String, Sendable {
        case jpeg = "libjpeg-turbo"
        case png = "libpng"
        /// Not a JPEG or PNG, or an unusable size or channel count (checked by flow itself).
        case flow = "flow"
    }

    public var source: Source
    /// The library's error code (`tjGetErrorCode`, `png_image.warning_or_error`), -1 for flow's own checks.
    public var code: Int32
    /// The library's message.
    public var message: String
    /// The sample key, when the caller attached it.
    public var key: String?
    /// The shard (or file) path, when the caller attached it.
    public var shard: String?

    public init(source: Source, code: Int32, message: String, key: String? = nil, shard: String? = nil) {
        self.source = source
        self.code = code
        self.message = message
        self.key = key
        self.shard = shard
    }

    /// The same error, located at sample `key` of `shard`.
    public func `in`(key: String?, shard: String?) -> ImageError {
        var e = self
        e.key = key ?? e.key
        e.shard = shard ?? e.shard
        return e
    }

    public var description: String {
        var where_ = ""
        if let shard { where_ += "\(shard): " }
        if let key { where_ += "sample \(key): " }
        return "\(where_)cannot decode image: \(source.rawValue): \(message)"
    }
}
