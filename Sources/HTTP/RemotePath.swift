/// Checks on what becomes part of a URL, or of a file name on the caller's side.
///
/// A remote's answers are untrusted: a digest or key read from a manifest is checked here before
/// it is used to build `cas/<digest>` or a cache path.
public enum RemotePath {
    /// Whether `segment` is exactly `length` lowercase hexadecimal digits.
    public static func isLowercaseHex(_ segment: some StringProtocol, length: Int) -> Bool {
        segment.utf8.count == length && segment.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// `cas/<digest>`, the path of an object, once `digest` is `length` lowercase hex digits.
    public static func cas(_ digest: String, length: Int) throws(HTTPError) -> String {
        try "cas/" + checked(digest, length: length)
    }

    /// `ac/<key>`, the path of an action's manifest, once `key` is `length` lowercase hex digits.
    public static func ac(_ key: String, length: Int) throws(HTTPError) -> String {
        try "ac/" + checked(key, length: length)
    }

    /// `segment` when it is `length` lowercase hex digits; throws `.invalidURL` otherwise.
    public static func checked(_ segment: String, length: Int) throws(HTTPError) -> String {
        guard isLowercaseHex(segment, length: length) else {
            // Not the segment itself: it may be anything, of any length.
            throw HTTPError(.invalidURL, detail: "not \(length) lowercase hex digits (\(segment.utf8.count) bytes)")
        }
        return segment
    }

    /// Whether the client sends requests for `path`: relative, segments of letters, digits and
    /// `._~-` only, none empty, `.` or `..`. So no escaping is needed, and no path leaves the
    /// base URL.
    public static func isAcceptable(_ path: String) -> Bool {
        guard !path.isEmpty else { return false }
        return path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { segment in
            !segment.isEmpty && segment != "." && segment != ".."
                && segment.utf8.allSatisfy { c in
                    (0x30...0x39).contains(c) || (0x41...0x5a).contains(c) || (0x61...0x7a).contains(c)
                        || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "~") || c == UInt8(ascii: "-")
                }
        }
    }
}
