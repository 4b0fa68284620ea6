/// A small line format for flow's own records (action manifests, step definitions): one record
/// per line, fields separated by tabs, `%`, tab and newline escaped as %25, %09 and %0A.
/// Faster to read than JSON, which matters when `flow status` reads thousands of them, and
/// still plain text a person can grep.
enum TextRecord {
    static func escape(_ s: String) -> String {
        // Checked byte by byte: by Characters, the check cost more than the rare escaping.
        guard s.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") })
        else { return s }
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "%": out += "%25"
            case "\t": out += "%09"
            case "\n": out += "%0A"
            case "\r": out += "%0D"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func unescape(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        guard bytes.contains(UInt8(ascii: "%")) else { return String(decoding: bytes, as: UTF8.self) }
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count, let h = hexValue(bytes[i + 1]), let l = hexValue(bytes[i + 2]) {
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    static func line(_ fields: [String]) -> String {
        fields.map(escape).joined(separator: "\t") + "\n"
    }

    /// The lines of `text`, each split into unescaped fields (a byte-level scan: `flow status`
    /// reads thousands of these).
    static func records(_ text: String) -> [[String]] {
        var text = text
        return text.withUTF8 { bytes in
            var result: [[String]] = []
            var fields: [String] = []
            var start = 0
            for i in 0..<bytes.count {
                let c = bytes[i]
                if c == UInt8(ascii: "\t") || c == UInt8(ascii: "\n") {
                    fields.append(unescape(UnsafeBufferPointer(rebasing: bytes[start..<i])))
                    start = i + 1
                    if c == UInt8(ascii: "\n") {
                        if !(fields.count == 1 && fields[0].isEmpty) { result.append(fields) }
                        fields = []
                    }
                }
            }
            if start < bytes.count {
                fields.append(unescape(UnsafeBufferPointer(rebasing: bytes[start...])))
                result.append(fields)
            }
            return result
        }
    }
}
