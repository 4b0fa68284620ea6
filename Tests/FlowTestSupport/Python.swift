import Foundation
import Testing

/// Finds a Python interpreter for interoperability tests (numpy, safetensors, webdataset, Pillow).
///
/// Uses FLOW_PYTHON when set (`make test` points it at a virtualenv it prepares), else `python3`.
/// `require` skips the test visibly when the interpreter or a module is missing (and fails it
/// under `make test`); `interpreter` returns nil then (and fails the test under `make test`).
public enum Python {
    public static func interpreter(requiring modules: [String]) -> String? {
        let python = ProcessInfo.processInfo.environment["FLOW_PYTHON"] ?? "python3"
        let imports = modules.map { "import \($0)" }.joined(separator: "; ")
        guard let result = try? FlowBinary.runProgram(python, ["-c", imports.isEmpty ? "pass" : imports],
                                                      in: NSTemporaryDirectory()),
              result.status == 0 else {
            let reason = "\(python) cannot import \(modules.joined(separator: ", ")) (set FLOW_PYTHON or run `make test`)"
            if Requirement.requireAll { Issue.record(Comment(rawValue: "required here but unavailable: \(reason)")) }
            print("skipped: \(reason)")
            return nil
        }
        return python
    }

    /// The interpreter, or the test is skipped (visibly; under `make test` it fails): see `Requirement`.
    public static func require(_ modules: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let python = ProcessInfo.processInfo.environment["FLOW_PYTHON"] ?? "python3"
        let imports = modules.map { "import \($0)" }.joined(separator: "; ")
        guard let result = try? FlowBinary.runProgram(python, ["-c", imports.isEmpty ? "pass" : imports], in: NSTemporaryDirectory()),
              result.status == 0 else {
            try Requirement.unmet("\(python) cannot import \(modules.joined(separator: ", ")) (set FLOW_PYTHON or run `make test`)",
                                  sourceLocation: sourceLocation)
        }
        return python
    }

    /// Runs `script` with `python`, in `directory`; returns the result (check `.status`).
    public static func run(_ python: String, script: String, in directory: String, args: [String] = []) throws -> ProcessResult {
        try FlowBinary.runProgram(python, ["-c", script] + args, in: directory)
    }
}
