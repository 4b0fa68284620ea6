/// A Python literal as it appears in a `.npy` header.
indirect enum PythonLiteral {
    case string(String)
    case int(Int)
    case bool(Bool)
    case none
    case tuple([PythonLiteral])
    case list([PythonLiteral])
    case dict([(String, PythonLiteral)])
}

/// Parses the subset of Python literal syntax NumPy headers use: dicts with string keys, strings,
/// integers (a Python 2 `L` suffix allowed), True/False/None, tuples and lists. Bounded nesting,
/// so a hostile header cannot exhaust the stack.
struct PythonLiteralParser {
    struct Failure: Error {
        var offset: Int
        var message: String
    }

    private let scalars: [Unicode.Scalar]
    private var i = 0
    private static let maxDepth = 16

    init(text: String) { scalars = Array(text.unicodeScalars) }

    /// The whole text must be one dict literal, with only whitespace around it.
    mutating func parseDict() throws -> [(String, PythonLiteral)] {
        skipSpace()
        guard peek == "{" else { throw failure("expected '{' at the start of the header dict") }
        guard case .dict(let d) = try parseValue(depth: 0) else { throw failure("expected a dict") }
        skipSpace()
        guard i == scalars.count else { throw failure("unexpected text after the header dict") }
        return d
    }

    private var peek: Unicode.Scalar? { i < scalars.count ? scalars[i] : nil }

    private func failure(_ message: String) -> Failure { Failure(offset: i, message: message) }

    private mutating func skipSpace() {
        while let c = peek, c == " " || c == "\t" || c == "\n" || c == "\r" { i += 1 }
    }

    private mutating func parseValue(depth: Int) throws -> PythonLiteral {
        guard depth < Self.maxDepth else { throw failure("nesting deeper than \(Self.maxDepth)") }
        skipSpace()
        guard let c = peek else { throw failure("unexpected end of header") }
        switch c {
        case "{":
            i += 1
            var items: [(String, PythonLiteral)] = []
            while true {
                skipSpace()
                if peek == "}" { i += 1; return .dict(items) }
                guard case .string(let key) = try parseValue(depth: depth + 1) else {
                    throw failure("dict keys must be strings")
                }
                skipSpace()
                guard peek == ":" else { throw failure("expected ':' after key '\(key)'") }
                i += 1
                items.append((key, try parseValue(depth: depth + 1)))
                skipSpace()
                if peek == "," { i += 1 } else if peek != "}" { throw failure("expected ',' or '}' in dict") }
            }
        case "(", "[":
            let close: Unicode.Scalar = c == "(" ? ")" : "]"
            i += 1
            var items: [PythonLiteral] = []
            var sawComma = false
            while true {
                skipSpace()
                if peek == close {
                    i += 1
                    if c == "[" { return .list(items) }
                    // `(x)` is x itself in Python; only `(x,)`, `()` and `(x, y)` are tuples.
                    return items.count == 1 && !sawComma ? items[0] : .tuple(items)
                }
                items.append(try parseValue(depth: depth + 1))
                skipSpace()
                if peek == "," { i += 1; sawComma = true } else if peek != close {
                    throw failure("expected ',' or '\(close)'")
                }
            }
        case "'", "\"":
            return .string(try parseString(quote: c))
        case "-", "0"..."9":
            return .int(try parseInt())
        default:
            let start = i
            while let d = peek, d.properties.isAlphabetic || d == "_" { i += 1 }
            switch String(String.UnicodeScalarView(scalars[start..<i])) {
            case "True": return .bool(true)
            case "False": return .bool(false)
            case "None": return .none
            default:
                i = start
                throw failure("unexpected character '\(c.escaped(asASCII: true))'")
            }
        }
    }

    private mutating func parseString(quote: Unicode.Scalar) throws -> String {
        i += 1
        var out = String.UnicodeScalarView()
        while let c = peek {
            i += 1
            if c == quote { return String(out) }
            if c == "\\" {
                guard let e = peek else { break }
                i += 1
                switch e {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                case "0": out.append("\0")
                default: out.append(e)
                }
            } else {
                out.append(c)
            }
        }
        throw failure("unterminated string")
    }

    private mutating func parseInt() throws -> Int {
        let negative = peek == "-"
        if negative { i += 1 }
        var value = 0
        var digits = 0
        while let c = peek, ("0"..."9").contains(c) {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(c.value - 48))
            if o1 || o2 { throw failure("integer too large") }
            value = a
            digits += 1
            i += 1
        }
        guard digits > 0 else { throw failure("expected digits") }
        if peek == "L" || peek == "l" { i += 1 }
        return negative ? -value : value
    }
}
