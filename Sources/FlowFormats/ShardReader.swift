import Glibc
import Archive

/// One regular-file entry of a shard, with its WebDataset key and extension.
public struct ShardEntry: Sendable {
    /// The entry's name in the tar.
    public var name: String
    public var key: String
    /// Lower-cased, without the leading dot.
    public var ext: String
    /// Where the entry's header starts in the (decompressed) tar stream.
    public var offset: Int64
    public var bytes: [UInt8]
}

/// Reads a WebDataset shard (`.tar`, or `.tar.lz4` and other libarchive filters, detected by
/// content) one sample at a time: a sample is a run of consecutive entries sharing a key.
///
/// Streaming: it holds one sample and one look-ahead entry, never the whole shard.
/// Directories, entries without an extension and `__*__` metadata entries are skipped, as
/// webdataset does. Refused, with the shard, the entry and its byte offset in the message:
/// absolute paths, `..` components, symbolic and hard links, devices, fifos and sockets,
/// a repeated extension within a sample, and truncated or corrupt data.
public final class ShardReader {
    public let path: String
    private let archive: ArchiveReader
    private var lookahead: ShardEntry?
    private var lastEntry: (name: String, end: Int64)?
    private var atEnd = false

    public init(path: String) throws {
        self.path = path
        do {
            archive = try ArchiveReader(path: path)
        } catch let error as ArchiveError {
            let what = error.code == ArchiveError.fileFormatCode ? " (not a tar or .tar.lz4 shard, or damaged at byte 0)" : ""
            throw FormatError(path: path, message: "cannot open shard: \(error.message)\(what)")
        }
    }

    /// The next sample, or nil at the end of the shard.
    public func next() throws -> Sample? {
        guard let first = try lookahead.take() ?? nextEntry() else { return nil }
        var sample = Sample(key: first.key, entries: [first.ext: first.bytes])
        while let entry = try nextEntry() {
            guard entry.key == sample.key else {
                lookahead = entry
                break
            }
            if sample.entries[entry.ext] != nil {
                throw FormatError(path: path, message:
                    "entry '\(entry.name)' at byte \(entry.offset): sample '\(sample.key)' already has a '\(entry.ext)' entry (a repeated extension); rewrite the shard with one entry per extension")
            }
            sample.entries[entry.ext] = entry.bytes
        }
        return sample
    }

    /// The largest entry a shard may hold (1 GiB, or FLOW_MAX_SHARD_ENTRY_BYTES): entries are read
    /// into memory whole, so this bounds what one hostile or broken shard can make flow allocate.
    public static let maxEntryBytes: Int64 = {
        if let s = getenv("FLOW_MAX_SHARD_ENTRY_BYTES"), let n = Int64(String(cString: s)), n > 0 { return n }
        return 1 << 30
    }()

    /// The next regular-file entry that belongs to a sample, or nil at the end of the shard.
    public func nextEntry() throws -> ShardEntry? {
        while !atEnd {
            let header: EntryHeader?
            do {
                header = try archive.nextHeader()
            } catch let error as ArchiveError {
                throw corrupt(error)
            }
            guard let header else {
                atEnd = true
                return nil
            }
            let offset = archive.headerOffset
            let name = header.pathname
            lastEntry = (name, offset + 512 + (header.size + 511) / 512 * 512)
            func refuse(_ why: String) -> FormatError {
                FormatError(path: path, message: "entry '\(name)' at byte \(offset): \(why); refusing to read this shard (rebuild it from trusted data)")
            }
            if let reason = WebDatasetName.unsafeReason(name) { throw refuse(reason) }
            if let target = header.hardlinkTarget { throw refuse("hard link to '\(target)'") }
            switch header.type {
            case .regular: break
            case .directory: continue
            case .symbolicLink: throw refuse("symbolic link to '\(header.symlinkTarget ?? "")'")
            default: throw refuse("\(header.type) entries are not allowed")
            }
            guard !WebDatasetName.isMetadata(name), let (key, ext) = WebDatasetName.split(name) else {
                continue
            }
            // The size comes from the header, before a byte is read: a small compressed shard can
            // claim gigabytes, and an entry is held in memory whole.
            if header.size > ShardReader.maxEntryBytes {
                throw FormatError(path: path, message: "entry '\(name)' at byte \(offset) claims \(header.size) bytes, more than the " +
                    "\(ShardReader.maxEntryBytes) an entry may have (set FLOW_MAX_SHARD_ENTRY_BYTES to allow more)")
            }
            let bytes: [UInt8]
            do {
                bytes = try archive.readData()
            } catch let error as ArchiveError {
                throw FormatError(path: path, message:
                    "entry '\(name)' at byte \(offset): data truncated or corrupt (\(error.message)); the shard is damaged, re-create it")
            }
            return ShardEntry(name: name, key: key, ext: ext, offset: offset, bytes: bytes)
        }
        return nil
    }

    /// Closes the file early; `next()` then returns nil.
    public func close() {
        atEnd = true
        archive.close()
    }

    private func corrupt(_ error: ArchiveError) -> FormatError {
        let place = lastEntry.map { "after entry '\($0.name)', near byte \($0.end)" } ?? "at the first header (byte 0)"
        return FormatError(path: path, message: "truncated or corrupt tar \(place): \(error.message); the shard is damaged, re-create it")
    }
}
