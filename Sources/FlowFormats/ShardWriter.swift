import Archive
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes samples into WebDataset tar shards `PREFIX-000000.tar`, `PREFIX-000001.tar`, ...
/// (or `.tar.lz4`) in `directory`.
///
/// Shards are reproducible: USTAR headers with mode 0444, uid and gid 0, uname and gname
/// `bigdata` and the pinned mtime `ShardWriter.modificationTime`; entries `KEY.EXT` in sorted
/// extension order. The same samples in the same order give byte-identical shards.
///
/// A new shard starts when the current one holds `maxSamples` samples, or when the next sample
/// would take it past `maxBytes` of tar data (headers and padding included, before lz4); a single
/// sample larger than `maxBytes` gets a shard of its own. Each shard is written under a temporary
/// name and renamed into place when complete, so a reader never sees half a shard.
/// Extensions starting with `_` are dropped, as webdataset's writer does.
public final class ShardWriter {
    /// The mtime of every entry: 2000-01-01T00:00:00Z, so that shards hash the same on every run.
    public static let modificationTime: Int64 = 946_684_800

    public let directory: String
    public let prefix: String
    public let maxSamples: Int
    public let maxBytes: Int?
    public let lz4: Bool

    private var archive: ArchiveWriter?
    private var temporaryPath = ""
    private var currentPath = ""
    private var samplesInShard = 0
    private var bytesInShard = 0
    private var finished: [String] = []
    private var isFinished = false

    public init(directory: String, prefix: String, maxSamples: Int = 1000, maxBytes: Int? = nil, lz4: Bool = false) throws {
        guard maxSamples > 0 else {
            throw FormatError(path: directory, message: "maxSamples must be at least 1 (got \(maxSamples))")
        }
        if let maxBytes, maxBytes <= 0 {
            throw FormatError(path: directory, message: "maxBytes must be positive (got \(maxBytes))")
        }
        guard !prefix.isEmpty, !prefix.contains("/") else {
            throw FormatError(path: directory, message: "shard prefix '\(prefix)' must be a non-empty file name without '/'")
        }
        var info = stat()
        guard stat(directory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw FormatError(path: directory, message: "not a directory; create it before writing shards into it")
        }
        self.directory = directory
        self.prefix = prefix
        self.maxSamples = maxSamples
        self.maxBytes = maxBytes
        self.lz4 = lz4
    }

    deinit {
        if archive != nil {
            archive = nil
            unlink(temporaryPath)
        }
    }

    /// The tar bytes `sample` takes: a 512-byte header per entry plus its data padded to 512.
    public static func tarSize(of sample: Sample) -> Int {
        sample.entries.filter { !$0.key.hasPrefix("_") }.values.reduce(0) { $0 + 512 + ($1.count + 511) / 512 * 512 }
    }

    /// Appends one sample, starting a new shard first when the current one is full.
    public func write(_ sample: Sample) throws {
        guard !isFinished else {
            throw FormatError(path: directory, message: "shard writer for '\(prefix)' already finished")
        }
        let extensions = sample.sortedExtensions.filter { !$0.hasPrefix("_") }
        try validate(sample, extensions: extensions)
        let size = Self.tarSize(of: sample)
        if archive != nil {
            let full = samplesInShard >= maxSamples || (maxBytes.map { bytesInShard + size > $0 } ?? false)
            if full { try closeShard() }
        }
        if archive == nil { try openShard() }
        guard let archive else { return }
        for ext in extensions {
            let data = sample.entries[ext] ?? []
            let name = sample.key + "." + ext
            let header = EntryHeader(pathname: name, size: Int64(data.count), type: .regular, permissions: 0o444,
                                     modificationTime: Self.modificationTime, uid: 0, gid: 0,
                                     userName: "bigdata", groupName: "bigdata")
            do {
                try archive.write(header, data: data)
            } catch let error as ArchiveError {
                throw FormatError(path: currentPath, message: "cannot write entry '\(name)' of sample '\(sample.key)': \(error.message)")
            }
        }
        samplesInShard += 1
        bytesInShard += size
    }

    /// Completes the last shard and returns the paths of all shards written, in order.
    /// Writes nothing for zero samples. Calling it again returns the same paths.
    public func finish() throws -> [String] {
        if !isFinished {
            isFinished = true
            if archive != nil { try closeShard() }
        }
        return finished
    }

    private func validate(_ sample: Sample, extensions: [String]) throws {
        let key = sample.key
        if let reason = WebDatasetName.unsafeReason(key) {
            throw FormatError(path: directory, message: "sample key '\(key)': \(reason)")
        }
        if WebDatasetName.isMetadata(key) {
            throw FormatError(path: directory, message: "sample key '\(key)' looks like a `__meta__` entry, which readers skip")
        }
        guard !extensions.isEmpty else {
            throw FormatError(path: directory, message: "sample '\(key)' has no entries to write")
        }
        for ext in extensions {
            guard ext == WebDatasetName.lowercasedASCII(ext) else {
                throw FormatError(path: directory, message: "sample '\(key)': extension '\(ext)' must be lower-case")
            }
            let name = key + "." + ext
            guard let split = WebDatasetName.split(name), split.key == key, split.ext == ext else {
                throw FormatError(path: directory, message:
                    "sample '\(key)': entry '\(name)' would not read back as key '\(key)' and extension '\(ext)' (keys must not contain '.'; extensions must not contain '/')")
            }
        }
    }

    private func shardPath(_ index: Int) -> String {
        let digits = String(index)
        let number = String(repeating: "0", count: max(0, 6 - digits.count)) + digits
        return directory + "/" + prefix + "-" + number + (lz4 ? ".tar.lz4" : ".tar")
    }

    private func openShard() throws {
        currentPath = shardPath(finished.count)
        let base = currentPath.split(separator: "/").last.map(String.init) ?? currentPath
        temporaryPath = directory + "/." + base + ".tmp-\(getpid())"
        do {
            archive = try ArchiveWriter(path: temporaryPath, format: .ustar, filter: lz4 ? .lz4() : .none)
        } catch let error as ArchiveError {
            throw FormatError(path: currentPath, message: "cannot create shard: \(error.message)")
        }
        samplesInShard = 0
        bytesInShard = 0
    }

    private func closeShard() throws {
        guard let archive else { return }
        self.archive = nil
        do {
            try archive.close()
        } catch let error as ArchiveError {
            unlink(temporaryPath)
            throw FormatError(path: currentPath, message: "cannot complete shard: \(error.message)")
        }
        guard rename(temporaryPath, currentPath) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporaryPath)
            throw FormatError(path: currentPath, message: "cannot rename the finished shard into place: \(reason)")
        }
        finished.append(currentPath)
    }
}
