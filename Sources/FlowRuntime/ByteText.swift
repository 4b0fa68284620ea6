import XXHash

/// Text built as bytes: for records of one line per path or step that run to megabytes (the
/// fresh snapshot of a large workspace), where string interpolation of every number and a
/// `String` per field were most of the cost of writing them.
struct ByteText {
    var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }

    mutating func append(byte: UInt8) { bytes.append(byte) }

    /// A field as `TextRecord` writes it: `%`, tab, CR and newline escaped.
    mutating func append(escaped text: String) { append(TextRecord.escape(text)) }

    /// A decimal integer, without making a `String` of it: its digits are written in place at
    /// the end of the bytes (a snapshot of 10,000 steps writes 100,000 numbers).
    mutating func append(_ value: UInt64) {
        var count = 1
        var rest = value
        while rest >= 10 { rest /= 10; count += 1 }
        for _ in 0..<count { bytes.append(UInt8(ascii: "0")) }
        let end = bytes.count
        bytes.withUnsafeMutableBufferPointer { buffer in
            var v = value
            var i = end
            repeat {
                i -= 1
                buffer[i] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: v % 10)
                v /= 10
            } while v > 0
        }
    }

    mutating func append(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        append(value.magnitude)
    }

    mutating func append(_ value: Int) { append(Int64(value)) }

    /// A digest as 32 lowercase hex digits.
    mutating func append(hex digest: Digest128) { append(digest.hex) }
}
