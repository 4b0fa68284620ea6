import Glibc
import XXHash

/// Hashing of file and directory content with XXH3-128.
public enum ContentHash {
    /// Read size: large enough that system calls cost little, small enough that the bytes read
    /// are still in the L2 cache when hashed (4 MiB chunks were 13% slower here).
    static let chunk = 256 << 10

    /// Streams `path` through XXH3-128 (`xxhsum -H2` gives the same digest).
    public static func file(_ path: String) throws -> Digest128 {
        let fd = try retrying("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        #if os(Linux)
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        #endif
        let hasher = XXH128Hasher()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let n = try retrying("read", path) { read(fd, buffer.baseAddress, chunk) }
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        return hasher.finalize()
    }

    /// One file of a directory tree, as it enters the tree's Merkle digest.
    public struct TreeEntry: Equatable, Sendable {
        /// Path relative to the tree's root.
        public var path: String
        public var digest: Digest128
        public var size: Int64
        public var executable: Bool

        public init(path: String, digest: Digest128, size: Int64, executable: Bool) {
            self.path = path
            self.digest = digest
            self.size = size
            self.executable = executable
        }
    }

    /// The Merkle digest of a directory: XXH3-128 over its sorted (relative path, mode, digest)
    /// entries. Empty directories do not appear; only whether a file is executable counts of its mode.
    public static func tree(_ entries: [TreeEntry]) -> Digest128 {
        var text = "flow-tree v1\n"
        for e in entries.sorted(by: { $0.path < $1.path }) {
            text += "\(e.path)\t\(e.executable ? "x" : "-")\t\(e.digest.hex)\n"
        }
        return XXH128.hash(text)
    }

    /// How `listFiles` treats symbolic links.
    public enum Links: Sendable {
        /// Follow them (an input directory may hold links to data elsewhere).
        case follow
        /// Follow only links that stay inside the listed directory; any other is an error (an
        /// output: flow stores its files, and must not copy in whatever a link points to).
        case within
    }

    /// A symbolic link in a step's output that leads out of it.
    public struct LinkError: Error, CustomStringConvertible {
        public var path: String
        public var target: String
        public var description: String {
            "output '\(path)' is a symbolic link to '\(target)', outside the output: flow stores files, not links; " +
            "write the file itself (or copy it) instead"
        }
    }

    /// Directories nest at most this deep (a link loop would otherwise never end).
    static let maxDepth = 256

    /// Regular files under `root`, recursively, as paths relative to it, sorted. Symbolic links
    /// are followed (see `Links`); `.`-files are included.
    /// `visitDirectory` is called with each sub-directory's relative path.
    public static func listFiles(_ root: String, links: Links = .follow, visitDirectory: ((String) -> Void)? = nil) throws -> [String] {
        var result: [String] = []
        let realRoot = links == .within ? realPath(root) : nil
        func walk(_ relative: String, depth: Int) throws {
            let dirPath = relative.isEmpty ? root : root + "/" + relative
            guard depth < maxDepth else { throw SystemError("list directory (nested too deep, or a link loop)", dirPath, errno: ELOOP) }
            guard let dir = opendir(dirPath) else { throw SystemError("list directory", dirPath) }
            defer { closedir(dir) }
            var names: [(name: String, type: UInt8)] = []
            while let entry = readdir(dir) {
                let name = withUnsafePointer(to: entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name == "." || name == ".." { continue }
                names.append((name, entry.pointee.d_type))
            }
            names.sort { $0.name < $1.name }
            for (name, type) in names {
                let rel = relative.isEmpty ? name : relative + "/" + name
                // The entry's type, where the file system gives it, spares a stat per file (a
                // link or an unknown type is stated below): the caller stats each file anyway.
                if type == UInt8(DT_REG) {
                    result.append(rel)
                    continue
                }
                if type == UInt8(DT_DIR) {
                    visitDirectory?(rel)
                    try walk(rel, depth: depth + 1)
                    continue
                }
                let full = root + "/" + rel
                if let realRoot, FileStat.of(full, followLinks: false)?.isSymlink == true {
                    let target = realPath(full) ?? full
                    guard target.hasPrefix(realRoot + "/") else { throw LinkError(path: full, target: target) }
                }
                guard let st = FileStat.of(full) else {
                    throw SystemError("stat", full, errno: ENOENT)
                }
                if st.isDirectory {
                    visitDirectory?(rel)
                    try walk(rel, depth: depth + 1)
                } else if st.isRegular { result.append(rel) }
            }
        }
        try walk("", depth: 0)
        return result
    }

    /// `realpath(3)`: the path with every link resolved, or nil.
    public static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }
}
