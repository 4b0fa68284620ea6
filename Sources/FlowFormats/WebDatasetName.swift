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
        var name = name
        return name.withUTF8 { split(bytes: $0) }
    }

    static func split(bytes: UnsafeBufferPointer<UInt8>) -> (key: String, ext: String)? {
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        // Greedy `(?:.*/|)`: try the start after the last slash first, then earlier ones, then 0.
        var searchEnd = bytes.count
        while true {
            let slashIndex = bytes[..<searchEnd].lastIndex(of: slash)
            let start = slashIndex.map { $0 + 1 } ?? 0
            if let d = bytes[start...].firstIndex(of: dot), d > start, !bytes[(d + 1)...].contains(slash) {
                let key = String(decoding: UnsafeBufferPointer(rebasing: bytes[..<d]), as: UTF8.self)
                let ext = String(decoding: UnsafeBufferPointer(rebasing: bytes[(d + 1)...]), as: UTF8.self)
                return (key, lowercasedASCII(ext))
            }
            guard let slashIndex else { return nil }
            searchEnd = slashIndex
        }
    }

    /// True for metadata entries readers skip: a first path component of the form `__*__`
    /// (`__[^/]*__($|/)` matched at the start, which also covers top-level `__*__` names).
    public static func isMetadata(_ name: String) -> Bool {
        let utf8 = name.utf8
        let end = utf8.firstIndex(of: UInt8(ascii: "/")) ?? utf8.endIndex
        let first = utf8[..<end]
        let underscores: [UInt8] = [95, 95]
        return first.count >= 4 && first.starts(with: underscores) && first.reversed().starts(with: underscores)
    }

    /// Why `path` is unsafe to extract, or nil: absolute paths and `..` components are refused.
    public static func unsafeReason(_ path: String) -> String? {
        unsafeReason(path.utf8)
    }

    static func unsafeReason(_ bytes: some Collection<UInt8>) -> String? {
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        guard let first = bytes.first else { return "empty name" }
        if first == slash { return "absolute path" }
        if bytes.contains(0) { return "name contains a NUL byte" }
        // A `..` component: two dots bounded by the ends or slashes.
        var componentLength = 0, dots = 0
        for b in bytes {
            if b == slash {
                if componentLength == 2 && dots == 2 { return "path contains a '..' component" }
                componentLength = 0
                dots = 0
            } else {
                componentLength += 1
                if b == dot { dots += 1 }
            }
        }
        if componentLength == 2 && dots == 2 { return "path contains a '..' component" }
        return nil
    }

    /// Lower-cases ASCII letters only, as Python's `str.lower()` does for ASCII names,
    /// without depending on the locale.
    static func lowercasedASCII(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 >= 65 && $0 <= 90 }) else { return s }
        return String(decoding: s.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
    }
}
