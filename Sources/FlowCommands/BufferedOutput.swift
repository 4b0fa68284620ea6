/// Lines for standard output, gathered and written in large pieces: `print` takes a lock and
/// writes once per call, which was a tenth of `flow status` at a million rows. The pieces are
/// printed, so that they keep their order with what was printed before.
struct BufferedOutput {
    private var buffer: [UInt8] = []
    private let limit: Int

    init() {
        limit = 1 << 16
        buffer.reserveCapacity(limit + 4096)
    }

    /// A buffer that is never printed, for text made on another thread: `bytes` holds it all,
    /// for `append(bytes:)` of a printing one.
    init(unprinted: ()) { limit = .max }

    var bytes: [UInt8] { buffer }

    mutating func append(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= limit { flush() }
    }

    mutating func append(bytes: [UInt8]) {
        buffer += bytes
        if buffer.count >= limit { flush() }
    }

    /// Appends `s` and enough spaces to fill `width` characters, as `s.count` counts them.
    mutating func append(_ s: String, paddedTo width: Int) {
        append(s)
        let n = BufferedOutput.width(of: s)
        if n < width { buffer.append(contentsOf: repeatElement(UInt8(ascii: " "), count: width - n)) }
    }

    mutating func flush() {
        print(String(decoding: buffer, as: UTF8.self), terminator: "")
        buffer.removeAll(keepingCapacity: true)
    }

    /// `s.count` without breaking it into grapheme clusters when it is printable ASCII, where
    /// every byte is one character (a carriage return may join a line feed, so it is not taken).
    static func width(of s: String) -> Int {
        var ascii = true
        for b in s.utf8 where b < 0x20 || b >= 0x7F { ascii = false; break }
        return ascii ? s.utf8.count : s.count
    }
}
