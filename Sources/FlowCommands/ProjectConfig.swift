import Foundation
import FlowCore

/// `flow.config` at the workspace root: settings committed with the project, one per line,
/// `NAME VALUE`, `#` comments. Today it holds the remote cache:
///
///     remote            https://cache.example.org/flow
///     remote-mode       read-only          # read-write (default), read-only or write
///     remote-allow-http yes                # credentials over plain http:// (a trusted network only)
///
/// Command-line options win over environment variables, which win over this file.
struct ProjectConfig {
    static let fileName = "flow.config"
    static let names = ["remote", "remote-mode", "remote-allow-http"]

    var values: [String: String] = [:]

    /// The file of workspace `root`; empty when there is none. A malformed line is an error that
    /// names the file, the line and the column, as the .dag loader's are.
    static func load(root: String) throws -> ProjectConfig {
        let path = root + "/" + fileName
        guard let data = FileManager.default.contents(atPath: path) else { return ProjectConfig() }
        let text = String(decoding: data, as: UTF8.self)
        var config = ProjectConfig()
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let name = words.first else { continue }
            let column = (raw.firstIndex(where: { $0 != " " && $0 != "\t" }).map { raw.distance(from: raw.startIndex, to: $0) } ?? 0) + 1
            func error(_ message: String) -> DAGError {
                DAGError(message, at: SourceLocation(file: fileName, line: index + 1, column: column), sourceLine: String(raw))
            }
            guard names.contains(name) else {
                throw error("unknown setting '\(name)'" + Spellcheck.hint(for: name, among: names))
            }
            guard words.count == 2 else { throw error("'\(name)' takes one value") }
            config.values[name] = words[1]
        }
        return config
    }
}
