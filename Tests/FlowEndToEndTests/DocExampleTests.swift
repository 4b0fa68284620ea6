import Foundation
import FlowTestSupport
import Testing

/// The docs' examples, run as a user would: in every Markdown file of docs/ and the README, a
/// fenced block marked `dag doctest` is loaded as `flow.dag` in an empty workspace with `flow
/// status` (or the command a `doctest-command: ARGS` line inside an HTML comment right before it
/// names), and the block marked `doctest-stderr` (or `doctest-stdout`) that follows must be what
/// flow prints there, exactly.
@Suite struct DocExampleTests {
    struct Example: CustomTestStringConvertible, Sendable {
        var file: String
        var line: Int
        var dag: String
        var arguments: [String]
        var stream: String
        var expected: String
        var testDescription: String { "\(file):\(line)" }
    }

    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static var examples: [Example] {
        let docs = (try? FileManager.default.contentsOfDirectory(atPath: repository + "/docs")) ?? []
        let files = ["README.md"] + docs.filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
        return files.flatMap { examples(in: $0) }
    }

    /// The examples of one file, in order.
    static func examples(in file: String) -> [Example] {
        guard let text = try? String(contentsOfFile: repository + "/" + file, encoding: .utf8) else { return [] }
        let lines = text.components(separatedBy: "\n")
        var result: [Example] = []
        var i = 0
        func block(from start: Int) -> (body: String, end: Int) {
            var j = start + 1
            var body: [String] = []
            while j < lines.count, lines[j] != "```" { body.append(lines[j]); j += 1 }
            return (body.map { $0 + "\n" }.joined(), j)
        }
        while i < lines.count {
            guard lines[i] == "```dag doctest" else { i += 1; continue }
            var arguments = ["status"]
            if i > 0, let r = lines[i - 1].range(of: "<!-- doctest-command: ") {
                arguments = lines[i - 1][r.upperBound...].replacingOccurrences(of: " -->", with: "").split(separator: " ").map(String.init)
            }
            let (dag, end) = block(from: i)
            var k = end + 1
            while k < lines.count, lines[k].isEmpty { k += 1 }
            guard k < lines.count, lines[k].hasPrefix("```text doctest-") else {
                result.append(Example(file: file, line: i + 1, dag: dag, arguments: arguments, stream: "missing", expected: ""))
                i = end + 1
                continue
            }
            let stream = String(lines[k].dropFirst("```text doctest-".count))
            let (expected, last) = block(from: k)
            result.append(Example(file: file, line: i + 1, dag: dag, arguments: arguments, stream: stream, expected: expected))
            i = last + 1
        }
        return result
    }

    @Test func theDocsHaveExamplesToRun() {
        #expect(Self.examples.count >= 6, "the doc examples were not found: \(Self.repository)")
    }

    @Test(arguments: examples)
    func docExampleDoesWhatTheDocsSay(_ example: Example) throws {
        #expect(["stderr", "stdout"].contains(example.stream), "\(example.file):\(example.line): no doctest-stderr or doctest-stdout block after it")
        let (r, _) = try FlowBinary.load(example.dag, example.arguments, prefix: "flow-doc")
        let actual = example.stream == "stdout" ? r.stdout : r.stderr
        #expect(actual == example.expected, "\(example.file):\(example.line) says:\n\(example.expected)\nflow printed:\n\(actual)")
    }
}
