import Foundation

/// A metrics file a step declares (`metrics results/C-{C}.json`): JSON, or the simple YAML that
/// training scripts write (`key: value` lines, nested by indentation). Scalars only; nested keys
/// are flattened with `.` (`val.top1`), list items by index (`losses.0`), in file order.
public enum MetricsFile {
    public struct Problem: Error, CustomStringConvertible {
        public var path: String
        public var message: String
        public var description: String { "\(path): \(message)" }
    }

    public static func parse(_ bytes: [UInt8], path: String) throws -> [(key: String, value: String)] {
        let text = String(decoding: bytes, as: UTF8.self)
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("{") || trimmed.hasPrefix("[") || path.hasSuffix(".json") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) else {
                throw Problem(path: path, message: "not valid JSON")
            }
            var result: [(String, String)] = []
            flatten(object, prefix: "", into: &result, orderFrom: text)
            return result
        }
        return try parseYAML(text, path: path)
    }

    static func flatten(_ value: Any, prefix: String, into result: inout [(String, String)], orderFrom text: String) {
        switch value {
        case let dict as [String: Any]:
            // JSONSerialization forgets the file's key order: take it from where each key appears.
            let keys = dict.keys.sorted { (text.range(of: "\"\($0)\"")?.lowerBound ?? text.endIndex) < (text.range(of: "\"\($1)\"")?.lowerBound ?? text.endIndex) }
            for k in keys { flatten(dict[k]!, prefix: prefix.isEmpty ? k : prefix + "." + k, into: &result, orderFrom: text) }
        case let list as [Any]:
            for (i, v) in list.enumerated() { flatten(v, prefix: prefix.isEmpty ? "\(i)" : "\(prefix).\(i)", into: &result, orderFrom: text) }
        case let b as Bool where !(value is Int) && !(value is Double):
            result.append((prefix, b ? "true" : "false"))
        case let n as NSNumber:
            // On Linux a JSON true/false arrives as an NSNumber whose type is "c" (char).
            if String(cString: n.objCType) == "c" { result.append((prefix, n.boolValue ? "true" : "false")) } else { result.append((prefix, format(n.doubleValue))) }
        case is NSNull:
            result.append((prefix, "null"))
        default:
            result.append((prefix, "\(value)"))
        }
    }

    /// Numbers as written by a person: integers without `.0`, others with up to 6 significant digits.
    static func format(_ x: Double) -> String {
        if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        return String(format: "%.6g", x)
    }

    static func parseYAML(_ text: String, path: String) throws -> [(key: String, value: String)] {
        var result: [(String, String)] = []
        var stack: [(indent: Int, key: String)] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty, line != "---" else { continue }
            let indent = line.prefix { $0 == " " }.count
            let body = line.dropFirst(indent)
            guard let colon = body.firstIndex(of: ":") else {
                throw Problem(path: path, message: "line \(n + 1): expected 'key: value'")
            }
            let key = body[..<colon].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
            let value = body[body.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            while let last = stack.last, last.indent >= indent { stack.removeLast() }
            let full = (stack.map(\.key) + [key]).joined(separator: ".")
            if value.isEmpty {
                stack.append((indent, key))
            } else {
                let unquoted = value.trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
                result.append((full, Double(unquoted).map(format) ?? unquoted))
            }
        }
        return result
    }
}
