/// A small line format for flow's own records (action manifests, step definitions): one record
/// per line, fields separated by tabs, `%`, tab and newline escaped as %25, %09 and %0A.
/// Faster to read than JSON, which matters when `flow status` reads thousands of them, and
/// still plain text a person can grep.
enum TextRecord {
    static func escape(_ s: String) -> String {
        guard s.contains(where: { $0 == "%" || $0 == "\t" || $0 == "\n" || $0 == "\r" }) else { return s }
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

    static func unescape<S: StringProtocol>(_ s: S) -> String {
        guard s.contains("%") else { return String(s) }
        var out = ""
        var i = s.startIndex
        while i < s.endIndex {
            if s[i] == "%", let end = s.index(i, offsetBy: 3, limitedBy: s.endIndex),
               let byte = UInt8(s[s.index(after: i)..<end], radix: 16) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
                i = end
            } else {
                out.append(s[i])
                i = s.index(after: i)
            }
        }
        return out
    }

    static func line(_ fields: [String]) -> String {
        fields.map(escape).joined(separator: "\t") + "\n"
    }

    /// The lines of `text`, each split into unescaped fields.
    static func records(_ text: String) -> [[String]] {
        text.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(unescape) }
    }
}
