import Foundation

/// Finds a Python interpreter for interoperability tests (numpy, safetensors, webdataset, Pillow).
///
/// Uses FLOW_PYTHON when set (`make test` points it at a virtualenv it prepares), else `python3`.
/// Returns nil, after printing why, when the interpreter or one of `modules` is missing, so that
/// a test can skip with a printed reason instead of failing on a machine without them.
public enum Python {
    public static func interpreter(requiring modules: [String]) -> String? {
        let python = ProcessInfo.processInfo.environment["FLOW_PYTHON"] ?? "python3"
        let imports = modules.map { "import \($0)" }.joined(separator: "; ")
        guard let result = try? FlowBinary.runProgram(python, ["-c", imports.isEmpty ? "pass" : imports],
                                                      in: NSTemporaryDirectory()),
              result.status == 0 else {
            print("skipped: \(python) cannot import \(modules.joined(separator: ", ")) (set FLOW_PYTHON or run `make test`)")
            return nil
        }
        return python
    }

    /// Runs `script` with `python`, in `directory`; returns the result (check `.status`).
    public static func run(_ python: String, script: String, in directory: String, args: [String] = []) throws -> ProcessResult {
        try FlowBinary.runProgram(python, ["-c", script] + args, in: directory)
    }
}
