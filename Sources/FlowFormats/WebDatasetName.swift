/// WebDataset's naming convention for the entries of a tar shard
/// (`webdataset/tariterators.py`: `base_plus_ext`, `meta_prefix`, `skip_meta`).
///
/// An entry `dir/n0144_10026.JPEG` belongs to the sample with key `dir/n0144_10026` under the
/// extension `jpeg`: the key is the path up to the first dot of the basename and the extension
/// is the rest, lower-cased (`a.b.c.jpg` → key `a`, extension `b.c.jpg`). So keys cannot
/// contain dots in their last component.
public enum WebDatasetName {
    /// Splits `name` as the regular expression `^((?:.*/|)[^.]+)[.]([^/]*)$` does, returning
    /// the key and the lower-cased extension, or nil when the name has no extension (such
    /// entries are skipped by readers).
    public static func split(_ name: String) -> (key: String, ext: String)? {
        let bytes = Array(name.utf8)
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        // Greedy `(?:.*/|)`: try the start after the last slash first, then earlier ones, then 0.
        var starts: [Int] = []
        for i in stride(from: bytes.count - 1, through: 0, by: -1) where bytes[i] == slash { starts.append(i + 1) }
        starts.append(0)
        for start in starts {
            guard let d = bytes[start...].firstIndex(of: dot), d > start else { continue }
            if bytes[(d + 1)...].contains(slash) { continue }
            let key = String(decoding: bytes[..<d], as: UTF8.self)
            let ext = String(decoding: bytes[(d + 1)...], as: UTF8.self)
            return (key, lowercasedASCII(ext))
        }
        return nil
    }

    /// True for metadata entries readers skip: a first path component of the form `__*__`
    /// (`__[^/]*__($|/)` matched at the start, which also covers top-level `__*__` names).
    public static func isMetadata(_ name: String) -> Bool {
        let first = name.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return first.utf8.count >= 4 && first.hasPrefix("__") && first.hasSuffix("__")
    }

    /// Why `path` is unsafe to extract, or nil: absolute paths and `..` components are refused.
    public static func unsafeReason(_ path: String) -> String? {
        if path.isEmpty { return "empty name" }
        if path.hasPrefix("/") { return "absolute path" }
        if path.split(separator: "/", omittingEmptySubsequences: false).contains("..") {
            return "path contains a '..' component"
        }
        if path.utf8.contains(0) { return "name contains a NUL byte" }
        return nil
    }

    /// Lower-cases ASCII letters only, as Python's `str.lower()` does for ASCII names,
    /// without depending on the locale.
    static func lowercasedASCII(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 >= 65 && $0 <= 90 }) else { return s }
        return String(decoding: s.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
    }
}
