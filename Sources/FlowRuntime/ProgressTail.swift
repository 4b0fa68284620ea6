import Foundation
import Glibc

/// Reads the last line of steps' progress files (`FLOW_PROGRESS`), cheaply: one `stat` per call,
/// and a read of at most the last 4 KiB only when the file grew.
///
/// The channel: a step appends one line of text per update ("epoch 3/10 loss 2.31"); the last
/// complete or partial line is its status. A carriage return starts the line over (tqdm-style
/// bars), and control characters are dropped, so a step cannot move the terminal's cursor.
public final class ProgressTail {
    struct Seen {
        var size: Int64
        var mtime: Int64
        var line: String
    }
    var seen: [String: Seen] = [:]
    static let window = 4096

    public init() {}

    /// The last non-empty line of the file at `path`, or nil if it is missing or empty.
    public func lastLine(_ path: String) -> String? {
        var st = stat()
        guard stat(path, &st) == 0, st.st_size > 0 else { return nil }
        let mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        if let s = seen[path], s.size == Int64(st.st_size), s.mtime == mtime { return s.line.isEmpty ? nil : s.line }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let count = min(Int(st.st_size), ProgressTail.window)
        var buffer = [UInt8](repeating: 0, count: count)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(st.st_size) - off_t(count)) }
        guard n > 0 else { return nil }
        let line = ProgressTail.lastLine(of: Array(buffer.prefix(n)))
        seen[path] = Seen(size: Int64(st.st_size), mtime: mtime, line: line)
        return line.isEmpty ? nil : line
    }

    /// Forgets files no longer shown (finished steps).
    public func keepOnly(_ paths: Set<String>) {
        seen = seen.filter { paths.contains($0.key) }
    }

    /// The last non-empty line of `bytes`, after its last carriage return, without control characters.
    static func lastLine(of bytes: [UInt8]) -> String {
        let lines = bytes.split(separator: UInt8(ascii: "\n"))
        for raw in lines.reversed() {
            let afterCR = raw.split(separator: UInt8(ascii: "\r")).last ?? raw[...]
            let text = String(decoding: afterCR, as: UTF8.self)
            let clean = String(String.UnicodeScalarView(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F && !(0x80...0x9F).contains($0.value) }))
                .trimmingCharacters(in: .whitespaces)
            if !clean.isEmpty { return clean }
        }
        return ""
    }
}
