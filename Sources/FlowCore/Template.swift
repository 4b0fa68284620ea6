/// A string with `{name}` placeholders: `{seed}`, `{i:06}`, `{in.model}`, `{out}`, `{f.stem}`.
/// `{{` and `}}` stand for literal braces.
struct Template: Sendable {
    enum Segment: Equatable, Sendable {
        case literal(String)
        /// `name` is everything before `:`; `format` after it (`06` pads an integer to 6 digits).
        case placeholder(name: String, format: String?, offset: Int)
    }

    let segments: [Segment]
    /// The shell context before each segment: what the literals before it leave open. Worked out
    /// once here, not at every render (a fan-out renders one command a million times).
    let contexts: [ShellContext]

    init(segments: [Segment]) {
        self.segments = segments
        contexts = Template.contexts(of: segments)
    }

    static func contexts(of segments: [Segment]) -> [ShellContext] {
        var context = ShellContext.bare
        return segments.map { segment in
            defer { if case .literal(let s) = segment { context = context.after(s) } }
            return context
        }
    }

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
                let body = String(scalars: scalars[(i + 1)..<close])
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

    /// The longest text a template may expand to (1 MiB): a few `let`s that double each other
    /// would otherwise take all memory.
    static let maxRenderedLength = 1 << 20

    static func checkLength(_ text: String) -> Result<String, TemplateError> {
        text.utf8.count > maxRenderedLength
            ? .failure(TemplateError(message: "expands to more than \(maxRenderedLength) bytes (variables that double each other?)", offset: 0))
            : .success(text)
    }

    var placeholders: [(name: String, format: String?, offset: Int)] {
        segments.compactMap {
            if case .placeholder(let n, let f, let o) = $0 { return (n, f, o) }
            return nil
        }
    }

    /// Substitutes every placeholder through `lookup`, which returns nil for an unknown name;
    /// `finish` sees each value after formatting, with the shell quoting the text around the
    /// placeholder puts it in (a `run` line quotes values there).
    func render(_ lookup: (String) -> String?,
                finish: (_ name: String, _ format: String?, _ value: String, _ context: ShellContext) -> String = { _, _, value, _ in value })
        -> Result<String, TemplateError> {
        var out = ""
        for (segment, context) in zip(segments, contexts) {
            if out.utf8.count > Template.maxRenderedLength {
                return .failure(TemplateError(message: "expands to more than \(Template.maxRenderedLength) bytes (variables that double each other?)", offset: 0))
            }
            switch segment {
            case .literal(let s):
                out += s
            case .placeholder(let name, let format, let offset):
                guard let value = lookup(name) else {
                    return .failure(TemplateError(message: "unknown placeholder '{\(name)}'", offset: offset, unknownName: name))
                }
                guard let format else { out += finish(name, nil, value, context); continue }
                switch Template.format(value, format) {
                case .success(let s): out += finish(name, format, s, context)
                case .failure(var e):
                    e.offset = offset
                    return .failure(e)
                }
            }
        }
        return Template.checkLength(out)
    }

    /// The format that inserts a value into a `run` line as it is, unquoted: `{flags:raw}`.
    static let rawFormat = "raw"

    /// `06` zero-pads an integer to width 6; `6` pads with spaces. Anything else is an error.
    /// `raw` leaves the value as it is (in a `run` line: not shell-quoted).
    static func format(_ value: String, _ format: String) -> Result<String, TemplateError> {
        if format == Template.rawFormat { return .success(value) }
        let zero = format.hasPrefix("0")
        guard let width = Int(format), width >= 0, width <= 64 else {
            return .failure(TemplateError(message: "unknown format ':\(format)' (use ':06' to zero-pad to 6 digits, ':raw' to insert a value unquoted)", offset: 0))
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

/// Where a placeholder stands in a shell command: outside quotes, or inside '...' or "...",
/// following command substitutions: inside `"$(...)"` or a backquoted command the shell starts
/// afresh, unquoted, so a value there is quoted as outside quotes.
struct ShellContext: Equatable, Sendable {
    enum Quoting: Equatable, Sendable { case bare, singleQuoted, doubleQuoted }
    /// What opened each level: a quote, `$(`, or a backquote (the innermost last).
    enum Level: Equatable, Sendable { case single, double, substitution, backquote }

    var levels: [Level] = []

    static let bare = ShellContext()

    /// How a value must be quoted here.
    var quoting: Quoting {
        switch levels.last {
        case .single: return .singleQuoted
        case .double: return .doubleQuoted
        default: return .bare
        }
    }

    /// The context after the shell reads `text` in this one.
    func after(_ text: String) -> ShellContext {
        var state = self
        var escaped = false
        let scalars = Array(text.unicodeScalars)
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            defer { i += 1 }
            if escaped { escaped = false; continue }
            let next: Unicode.Scalar? = i + 1 < scalars.count ? scalars[i + 1] : nil
            switch (state.levels.last, c) {
            case (.single, "'"): state.levels.removeLast()
            case (.single, _): break
            case (_, "\\"): escaped = true
            case (.double, "\""): state.levels.removeLast()
            case (_, "$") where next == "(":
                state.levels.append(.substitution)
                i += 1
            case (_, "`"):
                if state.levels.last == .backquote { state.levels.removeLast() } else { state.levels.append(.backquote) }
            case (.double, _): break
            case (.substitution, ")"): state.levels.removeLast()
            case (_, "'"): state.levels.append(.single)
            case (_, "\""): state.levels.append(.double)
            default: break
            }
        }
        return state
    }
}
