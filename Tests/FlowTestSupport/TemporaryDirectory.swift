import Foundation

/// A fresh directory under the system temporary directory, removed on deinit
/// unless FLOW_KEEP_TEST_DIRS is set (to look at what a failing test left).
public final class TemporaryDirectory {
    public let path: String

    public init(_ prefix: String = "flow-test") {
        let template = NSTemporaryDirectory() + "/\(prefix)-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard let p = mkdtemp(&bytes) else { fatalError("mkdtemp failed: \(String(cString: strerror(errno)))") }
        path = String(cString: p)
    }

    deinit {
        if ProcessInfo.processInfo.environment["FLOW_KEEP_TEST_DIRS"] == nil {
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    /// `path/relative`.
    public func url(_ relative: String) -> URL { URL(fileURLWithPath: path).appendingPathComponent(relative) }

    /// Writes `contents` at `relative`, creating parent directories.
    public func write(_ relative: String, _ contents: String) throws {
        try write(relative, Data(contents.utf8))
    }

    public func write(_ relative: String, _ data: Data) throws {
        let u = url(relative)
        try FileManager.default.createDirectory(at: u.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: u)
    }

    public func read(_ relative: String) throws -> String {
        try String(contentsOf: url(relative), encoding: .utf8)
    }

    public func readData(_ relative: String) throws -> Data {
        try Data(contentsOf: url(relative))
    }

    public func exists(_ relative: String) -> Bool {
        FileManager.default.fileExists(atPath: url(relative).path)
    }
}
