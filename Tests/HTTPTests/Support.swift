import Foundation
import FlowTestSupport
import HTTP

/// A fresh 64-hex-digit name, so that tests sharing the one nginx never meet.
func freshDigest() -> String {
    (UUID().uuidString + UUID().uuidString).lowercased().filter(\.isHexDigit).prefix(64).description
}

/// A client of `base`; tests use plain http to a loopback nginx, so insecure HTTP is allowed,
/// and retries wait little.
func makeClient(_ base: String, _ edit: (inout HTTPClient.Configuration) -> Void = { _ in }) throws -> HTTPClient {
    var c = HTTPClient.Configuration(baseURL: base)
    c.allowInsecureHTTP = true
    c.retry = .init(retries: 2, initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(200), jitter: false)
    c.stallTimeout = .seconds(5)
    edit(&c)
    return try HTTPClient(configuration: c)
}

/// `count` bytes of a repeatable pseudo-random sequence, written to `path` a megabyte at a time.
func writePattern(_ path: String, count: Int, seed: UInt64) throws {
    _ = FileManager.default.createFile(atPath: path, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    var state = seed | 1
    var left = count
    while left > 0 {
        let n = min(left, 1 << 20)
        var words = [UInt64](repeating: 0, count: (n + 7) / 8)
        for i in words.indices {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            words[i] = state
        }
        try handle.write(contentsOf: words.withUnsafeBytes { Data($0.prefix(n)) })
        left -= n
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
}
