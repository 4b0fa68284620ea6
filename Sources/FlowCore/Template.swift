/// A string with `{name}` placeholders: `{seed}`, `{i:06}`, `{in.model}`, `{out}`, `{f.stem}`.
/// `{{` and `}}` stand for literal braces.
struct Template {
    enum Segment: Equatable {
        case literal(String)
        /// `name` is everything before `:`; `format` after it (`06` pads an integer to 6 digits).
        case placeholder(name: String, format: String?, offset: Int)
    }

    var segments: [Segment]

    /// Parses `text`; on error returns the message and the 0-based scalar offset of the problem.
    static func parse(_ text: String) -> Result<Template, TemplateError> {
        var segments: [Segment] = []
        var literal = ""
        let scalars = Array(text.unicodeScalars)
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            if c == "{" {
                if i + 1 < scalars.count, scalars[i + 1] == "{" {
                    literal.unicodeScalars.append("{")
                    i += 2
                    continue
                }
                guard let close = scalars[(i + 1)...].firstIndex(of: "}") else {
                    return .failure(TemplateError(message: "unterminated '{' (write '{{' for a literal brace)", offset: i))
                }
                let body = String(String.UnicodeScalarView(scalars[(i + 1)..<close]))
                let parts = body.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                let name = String(parts[0])
                guard !name.isEmpty, name.unicodeScalars.allSatisfy({ Tokenizer.isNameScalar($0) || $0 == "." }) else {
                    return .failure(TemplateError(message: "invalid placeholder '{\(body)}'", offset: i))
                }
                if !literal.isEmpty { segments.append(.literal(literal)); literal = "" }
                segments.append(.placeholder(name: name, format: parts.count > 1 ? String(parts[1]) : nil, offset: i))
                i = close + 1
            } else if c == "}" {
                if i + 1 < scalars.count, scalars[i + 1] == "}" {
                    literal.unicodeScalars.append("}")
                    i += 2
                    continue
                }
                return .failure(TemplateError(message: "unmatched '}' (write '}}' for a literal brace)", offset: i))
            } else {
                literal.unicodeScalars.append(c)
                i += 1
            }
        }
        if !literal.isEmpty { segments.append(.literal(literal)) }
        return .success(Template(segments: segments))
    }

    var placeholders: [(name: String, format: String?, offset: Int)] {
        segments.compactMap {
            if case .placeholder(let n, let f, let o) = $0 { return (n, f, o) }
            return nil
        }
    }

    /// Substitutes every placeholder through `lookup`, which returns nil for an unknown name.
    func render(_ lookup: (String) -> String?) -> Result<String, TemplateError> {
        var out = ""
        for segment in segments {
            switch segment {
            case .literal(let s): out += s
            case .placeholder(let name, let format, let offset):
                guard let value = lookup(name) else {
                    return .failure(TemplateError(message: "unknown placeholder '{\(name)}'", offset: offset, unknownName: name))
                }
                guard let format else { out += value; continue }
                switch Template.format(value, format) {
                case .success(let s): out += s
                case .failure(var e):
                    e.offset = offset
                    return .failure(e)
                }
            }
        }
        return .success(out)
    }

    /// `06` zero-pads an integer to width 6; `6` pads with spaces. Anything else is an error.
    static func format(_ value: String, _ format: String) -> Result<String, TemplateError> {
        let zero = format.hasPrefix("0")
        guard let width = Int(format), width >= 0, width <= 64 else {
            return .failure(TemplateError(message: "unknown format ':\(format)' (use ':06' to zero-pad to 6 digits)", offset: 0))
        }
        guard let n = Int(value) else {
            return .failure(TemplateError(message: "format ':\(format)' needs an integer, got '\(value)'", offset: 0))
        }
        let digits = String(n.magnitude)
        let pad = max(0, width - digits.count - (n < 0 ? 1 : 0))
        let body = (n < 0 ? "-" : "") + String(repeating: zero ? "0" : " ", count: pad) + digits
        return .success(zero ? body : String(repeating: " ", count: 0) + body)
    }
}

struct TemplateError: Error {
    var message: String
    /// 0-based offset, in Unicode scalars, of the problem within the template text.
    var offset: Int
    var unknownName: String?
}
