/// Splits .dag lines into words, keeping each word's 1-based column.
enum Tokenizer {
    struct Word: Equatable {
        var text: String
        var column: Int
    }

    /// Whitespace-separated words; `"..."` and `'...'` group words and are removed.
    /// With `stripComment`, a `#` at the start of a word ends the line.
    static func words(_ line: String, stripComment: Bool) -> [Word] {
        var words: [Word] = []
        var current = ""
        var start = 0
        var quote: Unicode.Scalar?
        var inWord = false
        for (i, c) in line.unicodeScalars.enumerated() {
            if let q = quote {
                if c == q { quote = nil } else { current.unicodeScalars.append(c) }
                continue
            }
            if c == " " || c == "\t" {
                if inWord { words.append(Word(text: current, column: start + 1)); current = ""; inWord = false }
                continue
            }
            if !inWord {
                if stripComment && c == "#" { break }
                inWord = true
                start = i
            }
            if c == "\"" || c == "'" { quote = c } else { current.unicodeScalars.append(c) }
        }
        if inWord { words.append(Word(text: current, column: start + 1)) }
        return words
    }

    /// Removes a ` # comment` tail (a `#` preceded by a blank), outside quotes.
    static func stripTrailingComment(_ text: String) -> String {
        var quote: Character?
        var previous: Character = " "
        for (offset, c) in text.enumerated() {
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "#" && (previous == " " || previous == "\t") {
                return String(text.prefix(offset))
            }
            previous = c
        }
        return text
    }

    static func isNameScalar(_ c: Unicode.Scalar) -> Bool {
        c == "_" || c == "-" || ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c)
    }

    /// Step and variable names: a letter or `_`, then letters, digits, `_` or `-`.
    static func isName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first == "_" || ("a"..."z").contains(first) || ("A"..."Z").contains(first)
        else { return false }
        return s.unicodeScalars.allSatisfy(isNameScalar)
    }

    static func isEnvName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first == "_" || ("a"..."z").contains(first) || ("A"..."Z").contains(first)
        else { return false }
        return s.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
    }
}

extension String {
    /// The string of `scalars`. The parser works on arrays of scalars (columns are counted in
    /// scalars); a .dag is nearly all ASCII, and writing those as bytes at once is several times
    /// faster than appending scalar by scalar, which was a tenth of loading a large workflow.
    init<C: Collection>(scalars: C) where C.Element == Unicode.Scalar {
        guard scalars.allSatisfy(\.isASCII) else {
            self = String(String.UnicodeScalarView(scalars))
            return
        }
        self = String(unsafeUninitializedCapacity: scalars.count) { buffer in
            var i = 0
            for scalar in scalars {
                buffer[i] = UInt8(truncatingIfNeeded: scalar.value)
                i += 1
            }
            return i
        }
    }
}
