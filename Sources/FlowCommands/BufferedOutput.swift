/// Lines for standard output, gathered and written in large pieces: `print` takes a lock and
/// writes once per call, which was a tenth of `flow status` at a million rows. The pieces are
/// printed, so that they keep their order with what was printed before.
struct BufferedOutput {
    private var buffer: [UInt8] = []
    private let limit = 1 << 16

    init() { buffer.reserveCapacity(limit + 4096) }

    mutating func append(_ s: String) {
        buffer.append(contentsOf: s.utf8)
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
