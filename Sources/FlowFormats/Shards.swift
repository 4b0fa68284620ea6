#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finding shards on disk.
public enum Shards {
    /// The shard paths `pattern` names, sorted byte-wise:
    /// - an existing file: itself;
    /// - a directory: every `*.tar` and `*.tar.lz4` directly inside it;
    /// - a glob (`*`, `?`, `[...]`), optionally with webdataset's numeric braces
    ///   `shard-{000000..000009}.tar` or lists `{a,b}`: the files it matches.
    /// Throws when nothing matches, naming the pattern.
    public static func expand(_ pattern: String) throws -> [String] {
        var info = stat()
        if stat(pattern, &info) == 0 {
            if (info.st_mode & S_IFMT) != S_IFDIR { return [pattern] }
            let dir = pattern.hasSuffix("/") ? String(pattern.dropLast()) : pattern
            let found = try glob(dir + "/*.tar") + glob(dir + "/*.tar.lz4")
            guard !found.isEmpty else {
                throw FormatError(path: pattern, message: "directory has no *.tar or *.tar.lz4 shards")
            }
            return sorted(found)
        }
        var found: [String] = []
        for expanded in try expandBraces(pattern) {
            found += try glob(expanded)
        }
        guard !found.isEmpty else {
            throw FormatError(path: pattern, message: "no such file, and no shards match this pattern")
        }
        return sorted(Array(Set(found)))
    }

    static func sorted(_ paths: [String]) -> [String] {
        paths.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Expands the first `{A..B}` (numbers, zero-padded to A's width) or `{x,y}` group, recursively.
    static func expandBraces(_ pattern: String) throws -> [String] {
        guard let open = pattern.firstIndex(of: "{"),
              let close = pattern[open...].firstIndex(of: "}") else { return [pattern] }
        let head = String(pattern[..<open])
        let body = String(pattern[pattern.index(after: open)..<close])
        let tail = String(pattern[pattern.index(after: close)...])
        var choices: [String]
        let range = splitRange(body)
        if let range, let lo = Int(range[0]), let hi = Int(range[1]) {
            guard lo <= hi, hi - lo < 10_000_000 else {
                throw FormatError(path: pattern, message: "bad range {\(body)}: the first number must not exceed the second")
            }
            let width = range[0].count
            choices = (lo...hi).map { n in
                let s = String(n)
                return String(repeating: "0", count: max(0, width - s.count)) + s
            }
        } else {
            choices = body.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
        return try choices.flatMap { try expandBraces(head + $0 + tail) }
    }

    /// `"A..B"` as `["A", "B"]`, or nil without `..`.
    static func splitRange(_ body: String) -> [String]? {
        let bytes = Array(body.utf8)
        guard let i = bytes.indices.first(where: { $0 + 1 < bytes.count && bytes[$0] == 46 && bytes[$0 + 1] == 46 }) else {
            return nil
        }
        return [String(decoding: bytes[..<i], as: UTF8.self), String(decoding: bytes[(i + 2)...], as: UTF8.self)]
    }

    /// glob(3) without sorting; no matches is an empty list, other failures throw.
    static func glob(_ pattern: String) throws -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        #if canImport(Glibc)
        let rc = Glibc.glob(pattern, 0, nil, &g)
        #else
        let rc = Darwin.glob(pattern, 0, nil, &g)
        #endif
        if rc == GLOB_NOMATCH { return [] }
        guard rc == 0 else { throw FormatError(path: pattern, message: "cannot list matching files (glob error \(rc))") }
        var out: [String] = []
        for i in 0..<Int(g.gl_pathc) {
            if let p = g.gl_pathv[i] { out.append(String(cString: p)) }
        }
        return out
    }
}
