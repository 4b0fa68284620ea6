import Foundation
import FlowCore
import Glibc
import XXHash

/// The workspace root on disk: reading .dag files, globbing source files, and hashing content
/// through the stat cache, so that a file whose (device, inode, size, mtime, ctime) is unchanged
/// is never read again.
public final class Workspace: WorkspaceView {
    public let root: String
    /// Top-level directories that globs never enter (flow's own state, the cache, VCS data).
    public var ignoredTopLevel: Set<String>
    let state: StateStore?
    /// The cache directory relative to the root, when the cache lives inside the workspace.
    let cacheRelative: String?
    let cacheDirectory: String?
    /// The stat cache, loaded whole at start; changes are written back by `saveStatCache()`.
    var statCache: [String: (FileStat, Digest128)] = [:]
    var dirtyStats: [String: (FileStat, Digest128)] = [:]
    /// Every path looked at since `observations` was set, with what was seen (nil: missing):
    /// the .dag files, directories listed by globs, inputs and outputs. If none of them has
    /// changed, neither has the outcome of an evaluation (see `FreshSnapshot`).
    public var observations: [String: FileStat?]?
    /// Who looked at each path in `observations`: the fresh snapshot's reverse index, which says
    /// whom a changed path concerns (`FreshSnapshot.Delta`). Set by `observer`.
    public internal(set) var observers: [String: Observers] = [:]
    /// Paths seen with two different signatures in this process: whoever looked first saw
    /// something else, so no snapshot may vouch for them (see `FreshSnapshot.save`).
    public internal(set) var unsteadyPaths: Set<String> = []
    /// Who is looking now: the workflow outside any step, the loader while it loads, a step
    /// while it is evaluated, restored or committed.
    public var observer: Observer = .workflow
    /// When set, every file hashed adds its signature here: the evaluator takes the signatures of
    /// a directory input's files while it hashes them (what its key was computed from).
    var collectedStats: [String: FileStat]?
    /// Paths that hashing a directory acts as if absent: outputs of steps that left the workflow,
    /// which a run removes first, when `flow status` or `flow run -n` evaluate without removing.
    public var hiddenPaths: Set<String> = []

    public init(root: String, state: StateStore?, cacheDirectory: String?) {
        self.root = root
        self.state = state
        var ignored: Set<String> = [".flow", ".git", ".build"]
        let cacheRel = cacheDirectory.flatMap { Workspace.relative($0, to: root) }.flatMap { WorkspacePath.normalize($0) }
        if let rel = cacheRel { ignored.insert(String(rel.split(separator: "/").first ?? "")) }
        cacheRelative = cacheRel
        self.cacheDirectory = cacheDirectory
        ignoredTopLevel = ignored
        if let state { statCache = (try? state.loadStatCache()) ?? [:] }
    }

    static func relative(_ path: String, to root: String) -> String? {
        if path.hasPrefix(root + "/") { return String(path.dropFirst(root.count + 1)) }
        return path.hasPrefix("/") ? nil : path
    }

    /// Removes `path` (a file, or a directory and everything in it) from the workspace; a
    /// directory that is a mount point is emptied. Errors name the path.
    public func remove(_ path: String) throws {
        try FileIO.removeTree(absolute(path))
    }

    /// The path on disk; an absolute path (data under an `external` root) stands as it is.
    public func absolute(_ path: String) -> String {
        path.isEmpty ? root : path.hasPrefix("/") ? path : root + "/" + path
    }

    // MARK: WorkspaceView

    /// The results known so far in this run or evaluation, by step instance name: a fan-out over
    /// files a step writes expands from them (`resultFiles`).
    public var knownResults: [String: Manifest] = [:]

    public func resultFiles(of step: String, directory: String) -> [String]? {
        guard let manifest = knownResults[step] else { return nil }
        var files: [String] = []
        for out in manifest.outputs where out.path == directory || out.path.hasPrefix(directory + "/") || directory.hasPrefix(out.path + "/") {
            if let entries = out.entries {
                files += entries.map { out.path + "/" + $0.path }.filter { $0.hasPrefix(directory + "/") }
            } else if out.path.hasPrefix(directory + "/") {
                files.append(out.path)
            }
        }
        return files.sorted()
    }

    /// The `produced` table of the state, loaded when first asked.
    var producedPaths: Set<String>?

    public func wasProducedByFlow(_ path: String) -> Bool {
        if producedPaths == nil { producedPaths = Set(((try? state?.producedOutputs()) ?? [:]).keys) }
        guard let produced = producedPaths, !produced.isEmpty else { return false }
        // A file inside an output directory that flow produced was produced too.
        return produced.contains(path) || WorkspacePath.hasAncestor(path, in: produced)
    }

    public func isOwnedByFlow(_ path: String) -> Bool {
        if WorkspacePath.isReserved(path) { return true }
        if let c = cacheRelative, WorkspacePath.isInside(path, c) || WorkspacePath.isInside(c, path) || path.isEmpty {
            // The cache itself, anything in it, and any directory that holds it.
            return true
        }
        // Through a link: where the path's directory really is (one realpath per directory).
        let directory = WorkspacePath.directory(path)
        let owned: OwnedInDirectory
        if let known = ownedInDirectories[directory] {
            owned = known
        } else {
            owned = OwnedInDirectory(real: ContentHash.realPath(absolute(directory)), own: ownRealPaths)
            ownedInDirectories[directory] = owned
        }
        return owned.all || (!owned.names.isEmpty && owned.names.contains(WorkspacePath.name(path)))
    }

    /// What flow owns in one directory of the workspace, found once: all of it (the directory
    /// really is one of flow's own, or inside one), or the entries that really are.
    struct OwnedInDirectory {
        var all = false
        var names: Set<String> = []

        init(real: String?, own: [String]) {
            guard let real else { return }
            all = own.contains { real == $0 || real.hasPrefix($0 + "/") }
            let prefix = real + "/"
            for o in own where o.hasPrefix(prefix) { names.insert(String(o.dropFirst(prefix.count))) }
        }
    }

    var ownedInDirectories: [String: OwnedInDirectory] = [:]

    public func realPath(_ path: String) -> String? {
        guard let real = ContentHash.realPath(absolute(path)) else { return nil }
        if real == realRoot { return "" }
        let prefix = realRoot.hasSuffix("/") ? realRoot : realRoot + "/"
        return real.hasPrefix(prefix) ? String(real.dropFirst(prefix.count)) : real
    }

    /// The root with every link resolved.
    lazy var realRoot: String = ContentHash.realPath(root) ?? root

    /// `.flow` and the cache, with every link resolved.
    lazy var ownRealPaths: [String] = [root + "/.flow", cacheDirectory].compactMap { $0.flatMap(ContentHash.realPath) }

    public func readText(_ path: String) throws -> String {
        let p = path.hasPrefix("/") ? path : absolute(path)
        observe(path, FileStat.of(p))
        guard let data = FileManager.default.contents(atPath: p) else {
            throw SystemError("read", path, errno: FileStat.of(p) == nil ? ENOENT : EACCES)
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Records what `path` looked like, and to whom. `kindOnly`: the caller needs only to know
    /// whether it is a file, a directory or missing (the loader, for an input no step writes).
    func observe(_ path: String, _ st: FileStat?, kindOnly: Bool = false) {
        guard observations != nil else { return }
        if let seen = observations![path], seen != st { unsteadyPaths.insert(path) }
        observations![path] = st
        switch observer {
        case .workflow:
            observers[path, default: Observers()].workflow = true
        case .loading:
            if kindOnly { observers[path, default: Observers()].workflowKind = true } else { observers[path, default: Observers()].workflow = true }
        case .step(let id):
            if observers[path]?.steps.last != id { observers[path, default: Observers()].steps.append(id) }
        }
    }

    /// Runs `body` with `observer` set to `who`, then sets it back.
    public func observing<T>(_ who: Observer, _ body: () throws -> T) rethrows -> T {
        let outer = observer
        observer = who
        defer { observer = outer }
        return try body()
    }

    public func kind(of path: String) -> PathKind {
        let st = FileStat.of(absolute(path))
        observe(path, st, kindOnly: true)
        guard let st else { return .missing }
        return st.isDirectory ? .directory : .file
    }

    public func glob(_ pattern: String) -> [String] {
        // Walk only below the longest prefix without wildcards.
        let parts = pattern.split(separator: "/").map(String.init)
        let fixed = parts.prefix { !WorkspacePath.isGlob($0) && $0 != "**" }
        let base = (pattern.hasPrefix("/") ? "/" : "") + fixed.joined(separator: "/")
        if fixed.count == parts.count { return kind(of: base) == .file ? [base] : [] }
        guard kind(of: base) == .directory else { return [] }
        var result: [String] = []
        let maxDepth = parts.contains("**") ? Int.max : parts.count - fixed.count
        func walk(_ relative: String, depth: Int) {
            guard depth < maxDepth, let names = try? FileManager.default.contentsOfDirectory(atPath: absolute(relative)) else { return }
            // An entry added, removed or renamed changes the directory's mtime and ctime.
            observe(relative, FileStat.of(absolute(relative)))
            for name in names.sorted() {
                let rel = relative.isEmpty ? name : relative + "/" + name
                if relative.isEmpty && ignoredTopLevel.contains(name) { continue }
                guard let st = FileStat.of(absolute(rel)) else { continue }
                if st.isDirectory {
                    walk(rel, depth: depth + 1)
                } else if WorkspacePath.matches(rel, pattern: pattern) {
                    result.append(rel)
                }
            }
        }
        walk(base, depth: 0)
        return result.sorted()
    }

    // MARK: hashing

    /// The content digest of a workspace file, from the stat cache when its signature is unchanged.
    public func fileDigest(_ path: String) throws -> (Digest128, FileStat) {
        let abs = absolute(path)
        let before = FileStat.of(abs)
        observe(path, before)
        guard let before else { throw SystemError("read", path, errno: ENOENT) }
        if collectedStats != nil { collectedStats![path] = before }
        if let (st, d) = statCache[path], st.sameSignature(before) { return (d, before) }
        let digest = try ContentHash.file(abs)
        // Only trust the digest if the file did not change while it was read.
        if let after = FileStat.of(abs), after.sameSignature(before) { remember(path, before, digest) }
        return (digest, before)
    }

    func remember(_ path: String, _ st: FileStat, _ digest: Digest128) {
        statCache[path] = (st, digest)
        // Git's racy case: a file changed within its time stamp's resolution of now could change
        // again without its signature changing. Such an entry serves this process, which just
        // hashed the file, but is not kept for the next one, which hashes it again.
        guard !Workspace.isRacy(st) else { return }
        dirtyStats[path] = (st, digest)
    }

    /// True when `st` was changed so recently that a change to come could leave it equal: within
    /// 0.1 s, or 2 s on a file system whose time stamps have no fraction of a second (FAT, some NFS).
    static func isRacy(_ st: FileStat) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let nowNs = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
        let coarse = st.mtimeNs % 1_000_000_000 == 0 && st.ctimeNs % 1_000_000_000 == 0
        let window: Int64 = coarse ? 2_000_000_000 : 100_000_000
        return st.mtimeNs > nowNs - window || st.ctimeNs > nowNs - window
    }

    /// The files of a directory with their digests, and its Merkle digest.
    public func directoryDigest(_ path: String) throws -> (Digest128, [ContentHash.TreeEntry]) {
        observe(path, FileStat.of(absolute(path)))
        let files = try ContentHash.listFiles(absolute(path)) { dir in
            let rel = path.isEmpty ? dir : path + "/" + dir
            self.observe(rel, FileStat.of(self.absolute(rel)))
        }
        let kept = files.filter { f in hiddenPaths.isEmpty || !isHidden(path.isEmpty ? f : path + "/" + f) }
        let digests = try fileDigests(kept.map { path.isEmpty ? $0 : path + "/" + $0 }, label: path.isEmpty ? "." : path)
        let entries = zip(kept, digests).map { f, ds in
            ContentHash.TreeEntry(path: f, digest: ds.0, size: ds.1.size, executable: ds.1.isExecutable)
        }
        return (ContentHash.tree(entries), entries)
    }

    /// True when `path` or a directory above it is in `hiddenPaths`.
    public func isHidden(_ path: String) -> Bool {
        hiddenPaths.contains(path) || WorkspacePath.hasAncestor(path, in: hiddenPaths)
    }

    /// The digest of an input: a file's content digest or a directory's Merkle digest.
    public func digest(of ref: PathRef) throws -> Digest128 {
        if ref.isDirectory || kind(of: ref.path) == .directory { return try directoryDigest(ref.path).0 }
        return try fileDigest(ref.path).0
    }

    /// Writes the stat cache entries learned since the last save, in one transaction.
    public func saveStatCache() {
        guard let state, !dirtyStats.isEmpty else { return }
        let pending = dirtyStats
        dirtyStats = [:]
        try? state.batch {
            for (path, (st, d)) in pending { try state.recordDigest(path, st, d) }
        }
    }
}

extension StateStore {
    /// The whole stat cache, for a workspace to consult without a query per file.
    func loadStatCache() throws -> [String: (FileStat, Digest128)] {
        var result: [String: (FileStat, Digest128)] = [:]
        for r in try db.query("SELECT path, device, inode, size, mtime_ns, ctime_ns, digest FROM stat_cache") {
            guard let path = r[0].string, let d = r[6].string.flatMap(Digest128.init(hex:)) else { continue }
            let st = FileStat(device: UInt64(bitPattern: r[1].int ?? 0), inode: UInt64(bitPattern: r[2].int ?? 0), size: r[3].int ?? 0,
                              mtimeNs: r[4].int ?? 0, ctimeNs: r[5].int ?? 0, mode: 0)
            result[path] = (st, d)
        }
        return result
    }
}
