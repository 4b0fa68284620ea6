/// A position in a .dag file: 1-based line and column (columns count Unicode scalars).
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// An error in a workflow, syntactic or semantic, tied to the place in the source that causes it.
///
/// Printed as `FILE:LINE:COL: error: MESSAGE`, then the source line and a caret under the column,
/// the way compilers do, so editors and terminals can jump to it.
public struct DAGError: Error, Equatable, CustomStringConvertible {
    /// Data errors (exit 65, EX_DATAERR) versus usage errors (exit 64, EX_USAGE: a bad `--set`, an unknown target).
    public enum Kind: Sendable { case data, usage, warning }

    public var location: SourceLocation
    public var message: String
    /// The text of the offending line, without its newline; empty when there is none.
    public var sourceLine: String
    /// More lines shown after the caret (a cycle's path, the other definition of a duplicate).
    public var notes: [String]
    public var kind: Kind

    public init(_ message: String, at location: SourceLocation, sourceLine: String, notes: [String] = [], kind: Kind = .data) {
        self.message = message
        self.location = location
        self.sourceLine = sourceLine
        self.notes = notes
        self.kind = kind
    }

    public var description: String {
        var lines = ["\(location): \(kind == .warning ? "warning" : "error"): \(message)"]
        if !sourceLine.isEmpty {
            lines.append(sourceLine)
            // Keep tabs so the caret lines up under the same visual column.
            let prefix = sourceLine.unicodeScalars.prefix(max(0, location.column - 1))
            lines.append(String(String.UnicodeScalarView(prefix.map { $0 == "\t" ? "\t" : " " })) + "^")
        }
        lines += notes
        return lines.joined(separator: "\n")
    }

    /// The process exit status for this error: 65 (EX_DATAERR) or 64 (EX_USAGE).
    public var exitCode: Int32 { kind == .usage ? 64 : 65 }
}

/// Several errors found in one pass; flow reports every one, then exits.
public struct DAGErrors: Error, CustomStringConvertible {
    public var errors: [DAGError]
    public init(_ errors: [DAGError]) { self.errors = errors }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
    public var exitCode: Int32 { errors.contains { $0.kind == .data } ? 65 : 64 }
}
