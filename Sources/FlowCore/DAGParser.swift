/// Parses the text of one .dag file into a `DAGFile` (syntax only; see `WorkflowLoader` for meaning).
///
/// The language is line-oriented (docs/dag-language.md): a line is a comment (`#`), a `let`,
/// an `include`, a `step` header, or an indented attribute of the step above it. A line ending
/// in `\` continues on the next one. Every error is collected, not just the first.
public struct DAGParser {
    public static let stepKeywords = [
        "in", "out", "metrics", "run", "op", "cpus", "mem", "gpus", "time", "env", "retry", "timeout",
        "after", "checkpoint", "allow-empty", "untracked", "toolchain", "executor", "partition", "account", "qos", "constraint", "sbatch",
    ]
    /// What other tools' users type, and what it is here (Snakemake's `input:`, make's `deps`).
    static let habits: [String: String] = [
        "input:": "flow's is 'in PATH' (no colon)", "input": "flow's is 'in PATH'",
        "output:": "flow's is 'out PATH' (no colon)", "output": "flow's is 'out PATH'",
        "shell:": "flow's is 'run COMMAND' (no colon)", "shell": "flow's is 'run COMMAND'", "cmd": "flow's is 'run COMMAND'",
        "script:": "flow's is 'run python3 SCRIPT' with 'in SCRIPT'", "params:": "use 'let NAME = VALUE' above the steps, and {NAME}",
        "threads:": "flow's is 'cpus N'", "threads": "flow's is 'cpus N'", "resources:": "flow's are 'cpus N', 'mem 4G', 'gpus N'",
        "log:": "flow keeps each step's log itself ('flow log STEP')", "deps": "flow's is 'in PATH'", "outs": "flow's is 'out PATH'",
    ]

    /// The keywords that start a line at the top level.
    public static let topLevelKeywords = ["let", "external", "include", "step"]

    static let settingKeywords: Set<String> = [
        "cpus", "mem", "gpus", "time", "retry", "timeout", "executor", "partition", "account", "qos", "constraint", "sbatch",
    ]

    let path: String
    let lines: [String]
    var errors: [DAGError] = []

    public static func parse(source: String, file: String) throws -> DAGFile {
        var parser = DAGParser(path: file, source: source)
        // A NUL would end the command where a C string ends: a damaged or binary file, never a .dag.
        for (n, line) in parser.lines.enumerated() {
            if let column = line.unicodeScalars.firstIndex(of: "\u{0}") {
                parser.error("a NUL character: this is not a text file (damaged, or binary)", line: n + 1,
                             column: line.unicodeScalars.distance(from: line.unicodeScalars.startIndex, to: column) + 1)
            }
        }
        if !parser.errors.isEmpty { throw DAGErrors(parser.errors) }
        let items = parser.parseItems()
        if !parser.errors.isEmpty { throw DAGErrors(parser.errors) }
        return DAGFile(path: file, lines: parser.lines, items: items)
    }

    init(path: String, source: String) {
        self.path = path
        // By scalars: "\r\n" is one Character, and a Character split would not see the "\n" in it.
        var lines = source.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { String(Substring($0)) }
        if lines.last == "" { lines.removeLast() }
        self.lines = lines.map { $0.unicodeScalars.last == "\r" ? String(Substring($0.unicodeScalars.dropLast())) : $0 }
    }

    func location(_ line: Int, _ column: Int) -> SourceLocation {
        SourceLocation(file: path, line: line, column: column)
    }

    mutating func error(_ message: String, line: Int, column: Int) {
        errors.append(DAGError(message, at: location(line, column), sourceLine: line <= lines.count ? lines[line - 1] : ""))
    }

    /// A logical line: physical lines joined at trailing backslashes.
    struct LogicalLine {
        var number: Int
        var text: String
        var indented: Bool
    }

    func logicalLines() -> [LogicalLine] {
        var result: [LogicalLine] = []
        var i = 0
        while i < lines.count {
            let start = i
            var text = lines[i]
            while text.hasSuffix("\\") && i + 1 < lines.count {
                text.removeLast()
                while text.last == " " || text.last == "\t" { text.removeLast() }
                i += 1
                text += " " + lines[i].drop { $0 == " " || $0 == "\t" }
            }
            i += 1
            let indented = text.first == " " || text.first == "\t"
            result.append(LogicalLine(number: start + 1, text: text, indented: indented))
        }
        return result
    }

    mutating func parseItems() -> [DAGItem] {
        var items: [DAGItem] = []
        var currentStep: StepDecl?
        func flush(_ items: inout [DAGItem], _ step: inout StepDecl?) {
            if let s = step { items.append(.step(s)) }
            step = nil
        }
        // After a step line that could not be parsed, its attributes are skipped without more errors.
        var inBrokenStep = false
        for line in logicalLines() {
            let words = Tokenizer.words(line.text, stripComment: true)
            guard let first = words.first else { continue }
            let n = line.number
            if line.indented && DAGParser.topLevelKeywords.contains(first.text) {
                error("'\(first.text)' must start its line (it is indented)", line: n, column: first.column)
                if first.text == "step" {
                    flush(&items, &currentStep)
                    currentStep = parseStepHeader(words, line: line)
                    inBrokenStep = true
                }
                continue
            }
            if line.indented && inBrokenStep && currentStep == nil { continue }
            if line.indented && currentStep != nil {
                if let attribute = parseAttribute(words, line: line) {
                    currentStep!.attributes.append(attribute)
                }
                continue
            }
            if line.indented {
                error("indented line outside a step (attributes belong under a 'step' line)", line: n, column: first.column)
                continue
            }
            flush(&items, &currentStep)
            switch first.text {
            case "let":
                if let binding = parseLet(line) { items.append(.letBinding(binding)) }
            case "external":
                if let binding = parseLet(line, keyword: "external") { items.append(.external(binding)) }
            case "include":
                guard words.count == 2 else {
                    error("'include' takes one path", line: n, column: words.count > 2 ? words[2].column : first.column + 7)
                    continue
                }
                items.append(.include(Located(words[1].text, at: location(n, words[1].column))))
            case "step":
                currentStep = parseStepHeader(words, line: line)
                inBrokenStep = currentStep == nil
            default:
                let hint = first.text.hasPrefix("rule") ? "; flow's is 'step NAME' (no colon)" : Spellcheck.hint(for: first.text, among: DAGParser.topLevelKeywords)
                if DAGParser.stepKeywords.contains(first.text) {
                    error("'\(first.text)' must be indented under a 'step' line", line: n, column: first.column)
                } else {
                    error("expected 'let', 'external', 'include' or 'step', found '\(first.text)'\(hint)", line: n, column: first.column)
                }
            }
        }
        flush(&items, &currentStep)
        return items
    }

    /// `let NAME = VALUE`, or `external NAME = PATH` with `keyword` "external".
    mutating func parseLet(_ line: LogicalLine, keyword: String = "let") -> LetBinding? {
        let text = line.text
        let scalars = Array(text.unicodeScalars)
        // let NAME = VALUE (VALUE is the rest of the line, trimmed; quotes are removed).
        var i = keyword.unicodeScalars.count
        while i < scalars.count, scalars[i] == " " || scalars[i] == "\t" { i += 1 }
        let nameStart = i
        while i < scalars.count, Tokenizer.isNameScalar(scalars[i]) { i += 1 }
        let name = String(scalars: scalars[nameStart..<i])
        guard !name.isEmpty, Tokenizer.isName(name) else {
            error("expected a \(keyword == "let" ? "variable" : "name") after '\(keyword)'", line: line.number, column: nameStart + 1)
            return nil
        }
        while i < scalars.count, scalars[i] == " " || scalars[i] == "\t" { i += 1 }
        guard i < scalars.count, scalars[i] == "=" else {
            error("expected '=' after '\(keyword) \(name)'", line: line.number, column: i + 1)
            return nil
        }
        i += 1
        while i < scalars.count, scalars[i] == " " || scalars[i] == "\t" { i += 1 }
        let valueStart = i
        var value = String(scalars: scalars[i...])
        value = Tokenizer.stripTrailingComment(value)
        while value.last == " " || value.last == "\t" { value.removeLast() }
        if value.count >= 2, let q = value.first, q == "\"" || q == "'", value.last == q {
            value = String(value.dropFirst().dropLast())
        }
        return LetBinding(name: Located(name, at: location(line.number, nameStart + 1)),
                          value: Located(value, at: location(line.number, valueStart + 1)))
    }

    mutating func parseStepHeader(_ words: [Tokenizer.Word], line: LogicalLine) -> StepDecl? {
        let n = line.number
        guard words.count >= 2 else {
            error("expected a step name after 'step'", line: n, column: words[0].column + 5)
            return nil
        }
        // Rejoin the rest: `step embed[i in 0..<8]` has spaces inside the brackets.
        let headerColumn = words[1].column
        let rest = words[1...].map(\.text).joined(separator: " ")
        let scalars = Array(rest.unicodeScalars)
        var i = 0
        while i < scalars.count, Tokenizer.isNameScalar(scalars[i]) { i += 1 }
        let name = String(scalars: scalars[0..<i])
        guard Tokenizer.isName(name) else {
            error("invalid step name '\(rest)': use letters, digits, '_' and '-', starting with a letter or '_'", line: n, column: headerColumn)
            return nil
        }
        var decl = StepDecl(name: Located(name, at: location(n, headerColumn)), attributes: [])
        if i == scalars.count { return decl }
        // The bracket part: columns are found in the original line text.
        let original = Array(line.text.unicodeScalars)
        guard scalars[i] == "[", let open = original.firstIndex(of: "["),
              let close = original[open...].firstIndex(of: "]") else {
            error("unexpected text after step name '\(name)'", line: n, column: headerColumn + i)
            return nil
        }
        // After ']': nothing, or a comment.
        let after = String(scalars: original[(close + 1)...]).drop { $0 == " " || $0 == "\t" }
        if !after.isEmpty && !after.hasPrefix("#") {
            error("unexpected text after ']'", line: n, column: close + 2)
            return nil
        }
        let inner = Tokenizer.words(String(scalars: original[(open + 1)..<close]), stripComment: false)
            .map { Tokenizer.Word(text: $0.text, column: $0.column + open + 1) }
        guard let fanOuts = parseDomains(inner, line: n, bracketColumn: open + 2) else { return nil }
        decl.fanOuts = fanOuts
        return decl
    }

    /// `VAR in DOMAIN` separated by commas: `i in 0..<8`, `f in data/*.tar`, `C in 0.01, 0.1, 1`,
    /// `C in {Cs}, seed in 0..<3` (a product). A new domain starts at a word that is a name followed
    /// by `in`; everything before it, up to a comma, is the previous domain's value.
    mutating func parseDomains(_ words: [Tokenizer.Word], line n: Int, bracketColumn: Int) -> [FanOut]? {
        let usage = "expected '[VAR in 0..<N]', '[VAR in GLOB]', '[VAR in A, B, C]' or several of them separated by ','"
        func startsDomain(_ k: Int) -> Bool { k + 1 < words.count && words[k + 1].text == "in" && Tokenizer.isName(words[k].text) }
        guard startsDomain(0) else {
            error(usage, line: n, column: words.first?.column ?? bracketColumn)
            return nil
        }
        var result: [FanOut] = []
        var k = 0
        while k < words.count {
            let variable = Located(words[k].text, at: location(n, words[k].column))
            if result.contains(where: { $0.variable.value == variable.value }) {
                error("fan-out variable '\(variable.value)' is used twice", line: n, column: words[k].column)
                return nil
            }
            var j = k + 2
            var valueWords: [Tokenizer.Word] = []
            while j < words.count && !startsDomain(j) { valueWords.append(words[j]); j += 1 }
            guard !valueWords.isEmpty else {
                error("expected a range, a glob or a list of values after '\(variable.value) in'", line: n, column: words[k + 1].column + 3)
                return nil
            }
            if j < words.count {
                // Another domain follows: the last value word must end with the ',' that separates them.
                guard valueWords[valueWords.count - 1].text.hasSuffix(",") else {
                    error("separate the domains of a product with ','", line: n, column: words[j].column)
                    return nil
                }
                valueWords[valueWords.count - 1].text.removeLast()
            }
            // Items: the value words split at commas, each with its own column.
            var items: [Located<String>] = []
            var sawComma = false
            for w in valueWords {
                var column = w.column
                for part in w.text.split(separator: ",", omittingEmptySubsequences: false) {
                    if !part.isEmpty { items.append(Located(String(part), at: location(n, column))) }
                    column += part.unicodeScalars.count + 1
                }
                if w.text.utf8.contains(UInt8(ascii: ",")) { sawComma = true }
            }
            guard !items.isEmpty else {
                error("expected a range, a glob or a list of values after '\(variable.value) in'", line: n, column: words[k + 1].column + 3)
                return nil
            }
            if items.count == 1 && !sawComma {
                let text = items[0]
                if let r = text.value.firstRange(of: "..<") ?? text.value.firstRange(of: "...") {
                    let lower = String(text.value[..<r.lowerBound]), upper = String(text.value[r.upperBound...])
                    let upperColumn = text.location.column + lower.unicodeScalars.count + 3
                    result.append(FanOut(variable: variable, domain: .range(
                        lower: Located(lower, at: text.location),
                        upper: Located(upper, at: location(n, upperColumn)), closed: text.value[r] == "...")))
                } else if WorkspacePath.isGlob(text.value) || text.value.utf8.contains(UInt8(ascii: "/")) {
                    result.append(FanOut(variable: variable, domain: .glob(text)))
                } else {
                    result.append(FanOut(variable: variable, domain: .expression(text)))
                }
            } else {
                result.append(FanOut(variable: variable, domain: .list(items)))
            }
            k = j
        }
        return result
    }

    mutating func parseAttribute(_ words: [Tokenizer.Word], line: LogicalLine) -> StepAttribute? {
        let n = line.number
        let keyword = words[0]
        let at = location(n, keyword.column)
        func loc(_ w: Tokenizer.Word) -> Located<String> { Located(w.text, at: location(n, w.column)) }
        switch keyword.text {
        case "in", "out", "metrics":
            let args = Array(words.dropFirst())
            guard !args.isEmpty else {
                error("'\(keyword.text)' needs at least one path", line: n, column: keyword.column + keyword.text.count + 1)
                return nil
            }
            var name: Located<String>?
            var paths = args
            if args.count >= 2, args[1].text == "=" {
                guard Tokenizer.isName(args[0].text) else {
                    error("invalid name '\(args[0].text)' before '='", line: n, column: args[0].column)
                    return nil
                }
                name = loc(args[0])
                paths = Array(args.dropFirst(2))
                guard paths.count == 1 else {
                    error(paths.isEmpty ? "expected a path after '='" : "a named \(keyword.text == "in" ? "input" : "output") takes exactly one path",
                          line: n, column: paths.count > 1 ? paths[1].column : args[1].column + 1)
                    return nil
                }
            }
            let located = paths.map(loc)
            return StepAttribute(kind: keyword.text == "in" ? .input(name: name, paths: located) : .output(name: name, paths: located),
                                 location: at, isMetrics: keyword.text == "metrics")
        case "run":
            // The command is the raw rest of the line (after 'run' and its blanks), untouched.
            let scalars = Array(line.text.unicodeScalars)
            var i = keyword.column - 1 + 3
            while i < scalars.count, scalars[i] == " " || scalars[i] == "\t" { i += 1 }
            let command = String(scalars: scalars[i...])
            guard !command.isEmpty else {
                error("'run' needs a command", line: n, column: keyword.column + 4)
                return nil
            }
            return StepAttribute(kind: .run(Located(command, at: location(n, i + 1))), location: at)
        case "op":
            guard words.count >= 2 else {
                error("'op' needs the name of a built-in op", line: n, column: keyword.column + 3)
                return nil
            }
            return StepAttribute(kind: .op(name: loc(words[1]), arguments: words.dropFirst(2).map(loc)), location: at)
        case "env":
            guard words.count >= 2 else {
                error("'env' needs a variable name (NAME or NAME=VALUE)", line: n, column: keyword.column + 4)
                return nil
            }
            var entries: [EnvEntry] = []
            for w in words.dropFirst() {
                let name = w.text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
                guard Tokenizer.isEnvName(name) else {
                    error("invalid environment variable name '\(name)'", line: n, column: w.column)
                    return nil
                }
                let value = w.text.count > name.count
                    ? Located(String(w.text.dropFirst(name.count + 1)), at: location(n, w.column + name.count + 1)) : nil
                entries.append(EnvEntry(name: Located(name, at: location(n, w.column)), value: value))
            }
            return StepAttribute(kind: .env(entries), location: at)
        case "untracked":
            guard words.count >= 2 else {
                error("'untracked' needs at least one path", line: n, column: keyword.column + 10)
                return nil
            }
            return StepAttribute(kind: .untracked(words.dropFirst().map(loc)), location: at)
        case "toolchain":
            // toolchain NAME = EXECUTABLE [ARGS...]
            guard words.count >= 4, words[2].text == "=", Tokenizer.isName(words[1].text) else {
                let column = words.count >= 2 ? words[1].column : keyword.column + 10
                error("expected 'toolchain NAME = EXECUTABLE [ARGS...]' (e.g. 'toolchain python = .venv/bin/python -m pip freeze')",
                      line: n, column: column)
                return nil
            }
            return StepAttribute(kind: .toolchain(name: loc(words[1]), command: words.dropFirst(3).map(loc)), location: at)
        case "after":
            guard words.count >= 2 else {
                error("'after' needs at least one step name", line: n, column: keyword.column + 6)
                return nil
            }
            return StepAttribute(kind: .after(words.dropFirst().map(loc)), location: at)
        case "checkpoint", "allow-empty":
            if words.count > 1 {
                error("'\(keyword.text)' takes no value", line: n, column: words[1].column)
                return nil
            }
            return StepAttribute(kind: keyword.text == "checkpoint" ? .checkpoint : .allowEmpty, location: at)
        case let key where DAGParser.settingKeywords.contains(key):
            guard words.count >= 2 else {
                error("'\(key)' needs a value", line: n, column: keyword.column + key.count + 1)
                return nil
            }
            if key != "sbatch" && words.count > 2 {
                error("'\(key)' takes one value", line: n, column: words[2].column)
                return nil
            }
            let value = key == "sbatch" ? words.dropFirst().map(\.text).joined(separator: " ") : words[1].text
            return StepAttribute(kind: .setting(key: loc(keyword), value: Located(value, at: location(n, words[1].column))), location: at)
        default:
            let hint = DAGParser.habits[keyword.text].map { "; \($0)" } ?? Spellcheck.hint(for: keyword.text, among: DAGParser.stepKeywords)
            error("unknown step attribute '\(keyword.text)'\(hint)", line: n, column: keyword.column)
            return nil
        }
    }
}
