/// One WebDataset sample: the entries of a shard that share a key.
///
/// `entries` maps an extension, lower-cased and without the leading dot (`jpg`, `cls`, `json`,
/// `seg.png`), to the entry's bytes. A writer stores them as `KEY.EXT` in sorted extension order.
public struct Sample: Equatable, Sendable {
    public var key: String
    public var entries: [String: [UInt8]]

    public init(key: String, entries: [String: [UInt8]]) {
        self.key = key
        self.entries = entries
    }

    /// The extensions in the order a writer stores them (byte-wise sorted).
    public var sortedExtensions: [String] {
        entries.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// The bytes of all entries.
    public var payloadBytes: Int { entries.values.reduce(0) { $0 + $1.count } }

    /// The `.cls` entry parsed as an integer class index (ASCII decimal, surrounding whitespace
    /// allowed, as Python's `int()` accepts), or nil when absent or not an integer.
    public var classIndex: Int? {
        guard let bytes = entries["cls"] else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).trimmingASCIIWhitespace()
        return Int(text)
    }
}

extension String {
    func trimmingASCIIWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        var s = Substring(self)
        while let c = s.first, isSpace(c) { s = s.dropFirst() }
        while let c = s.last, isSpace(c) { s = s.dropLast() }
        return String(s)
    }
}
