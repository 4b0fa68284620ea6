import Foundation
import FlowCore
import XXHash

/// How a workspace uses its remote cache.
/// Fetching is always on; uploading is asked for, so that one researcher's experiment does not
/// reach the whole team's cache by accident (a CI job, or `flow push`, writes).
public enum RemoteMode: String, CaseIterable, Sendable {
    /// Fetch results that are not in the local cache; upload nothing (the default).
    case readOnly = "read-only"
    /// Fetch, and upload what this machine computes (`--remote-write`).
    case readWrite = "read-write"

    public var fetches: Bool { true }
    public var uploads: Bool { self == .readWrite }
}

/// A remote cache as one run sees it: results fetched into the local cache before a step would
/// run, results uploaded after a step ran, each through the store protocols. A remote that fails
/// is reported once and then left alone for the rest of the process: the run goes on locally.
public final class RemoteResults: @unchecked Sendable {
    // @unchecked: the uploads run on a queue of their own; every mutable field below is guarded
    // by `lock`, and the local store is touched there only to read objects (see `upload`).
    public var objects: any ObjectStoring
    public let actions: any ActionStoring
    public let mode: RemoteMode
    public typealias Progress = StoreProgress
    /// Told how a batch of transfers moves (`flow push`, `flow pull` draw it).
    public var progress: (@Sendable (Progress) -> Void)? {
        get { objects.onProgress }
        set { objects.onProgress = newValue }
    }
    /// Where messages go (the run's reporter).
    public var warn: (String) -> Void = { FileHandle.standardError.write(Data("warning: \($0)\n".utf8)) }

    let local: ObjectStore
    /// The local cache's temporaries: downloads land here until verified and stored.
    var scratch: String { local.root + "/tmp" }
    let localActions: ActionCache
    let lock = NSLock()
    var failure: String?
    var uploads = UploadTally()
    let queue = DispatchQueue(label: "flow.remote.uploads")
    let group = DispatchGroup()

    /// What was moved, for the run's summary and `flow push`/`pull`.
    public struct UploadTally: Sendable {
        public var results = 0
        public var objects = 0
        public var bytes: Int64 = 0
        public var failed = 0
    }

    public init(objects: any ObjectStoring, actions: any ActionStoring, mode: RemoteMode, local: ObjectStore, localActions: ActionCache) {
        self.objects = objects
        self.actions = actions
        self.mode = mode
        self.local = local
        self.localActions = localActions
    }

    /// The remote has failed before in this process: it is not asked again.
    public var isDown: Bool { lock.lock(); defer { lock.unlock() }; return failure != nil }

    /// Says what failed, once per process; later failures are counted, not printed.
    func fail(_ what: String, _ error: Error) {
        lock.lock()
        let first = failure == nil
        if first { failure = "\(what): \(error)" }
        lock.unlock()
        if first { warn("remote cache: \(what): \(error); going on without it for the rest of this run") }
    }

    /// The remote's manifest of `key`, if it has one that is fit for `step` (checked as any
    /// manifest read from a cache is). Nothing is downloaded but the manifest.
    public func peek(_ key: Digest128, for step: Step) -> Manifest? {
        guard mode.fetches, !isDown else { return nil }
        let answer = Result { try actions.manifest(for: key) }
        return usable(answer, key: key, step: step)
    }

    /// The remote's answer for `key` when it is a manifest fit for `step` (checked as any
    /// manifest read from a cache is); a failure or an unfit manifest is reported (once).
    func usable(_ answer: Result<Manifest?, Error>, key: Digest128, step: Step) -> Manifest? {
        switch answer {
        case .failure(let e):
            fail("looking up \(step.name)", e)
            return nil
        case .success(nil):
            return nil
        case .success(let m?):
            if let reason = m.problem(declared: step.outputs) {
                fail("the result of \(step.name) is not usable", UnusableRemoteManifest(reason: reason))
                return nil
            }
            return m.key == key.hex ? m : nil
        }
    }

    /// Brings the result of `key` into the local cache (see `fetchAll`). Nil when the remote has
    /// no usable result or a transfer fails: the step then runs.
    public func fetch(_ key: Digest128, for step: Step) -> Manifest? {
        fetchAll([(key, step)]).results[key]
    }

    /// Brings many results into the local cache at once: their manifests are read and checked,
    /// the objects the local cache lacks are downloaded together into the cache's temporaries,
    /// verified and stored, and only then each manifest. A result whose objects did not all
    /// arrive is not kept.
    public func fetchAll(_ wanted: [(key: Digest128, step: Step)]) -> (results: [Digest128: Manifest], moved: Moved) {
        guard mode.fetches, !isDown, !wanted.isEmpty else { return ([:], Moved()) }
        var found: [Digest128: Manifest] = [:]
        for (key, answer) in actions.manifests(for: wanted.map(\.key)) {
            guard let step = wanted.first(where: { $0.key == key })?.step else { continue }
            found[key] = usable(answer, key: key, step: step)
        }
        let needed = Array(Set(found.values.flatMap(\.objectDigests))).filter { !local.contains($0) }
        var lost = Set<Digest128>()
        var moved = Moved()
        if !needed.isEmpty {
            let items = needed.map { StoreTransferItem(digest: $0, path: scratch + "/" + TemporaryName.make()) }
            defer { for i in items { unlink(i.path) } }
            let failedGets = objects.get(items)
            if let (d, e) = failedGets.first { fail("downloading object \(d.hex)", e) }
            let arrived = items.filter { failedGets[$0.digest] == nil }
            // Sizes first: adopting moves the files.
            let sizes = Dictionary(arrived.map { ($0.digest, FileStat.of($0.path)?.size ?? 0) }) { a, _ in a }
            let failedPuts = local.adopt(arrived)
            if let (d, e) = failedPuts.first { warn("remote cache: cannot keep object \(d.hex): \(e)") }
            lost = Set(failedGets.keys).union(failedPuts.keys)
            for i in arrived where failedPuts[i.digest] == nil {
                moved.objects += 1
                moved.bytes += sizes[i.digest] ?? 0
            }
        }
        var results: [Digest128: Manifest] = [:]
        for (key, m) in found where !m.objectDigests.contains(where: lost.contains) {
            do {
                try localActions.put(m, for: key)
                results[key] = m
            } catch {
                warn("remote cache: cannot keep the result of \(m.step): \(error)")
            }
        }
        return (results, moved)
    }

    /// Uploads a result in the background (see `pushAll`). One that cannot be uploaded now (the
    /// remote is down) is remembered in `pending`, and the next run that writes uploads it.
    public func upload(_ manifest: Manifest, key: Digest128) {
        guard mode.uploads else { return }
        group.enter()
        queue.async { [self] in
            defer { group.leave() }
            let moved = isDown ? Moved() : pushAll([(key, manifest)])
            lock.lock()
            uploads.results += moved.results; uploads.objects += moved.objects; uploads.bytes += moved.bytes
            uploads.failed += 1 - moved.results
            if moved.results == 0 { pendingKeys.insert(key) } else { pendingKeys.remove(key) }
            lock.unlock()
        }
    }

    /// Where the keys of results not yet uploaded are kept between runs (`.flow/remote-pending`);
    /// nil keeps them only for this process.
    public var pendingFile: String?
    var pendingKeys = Set<Digest128>()

    /// The results an earlier run could not upload, read from `pendingFile`.
    public func loadPending() -> [Digest128] {
        guard let pendingFile, let bytes = try? FileIO.readAll(pendingFile, sizeHint: 0) else { return [] }
        let keys = String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { Digest128(hex: String($0)) }
        lock.lock(); pendingKeys.formUnion(keys); lock.unlock()
        return keys
    }

    /// Uploads, in the background, the results an earlier run could not, that the local cache holds.
    public func uploadPending() {
        guard mode.uploads else { return }
        for key in loadPending() {
            if let manifest = localActions.manifest(for: key) { upload(manifest, key: key) } else { forget(key) }
        }
    }

    func forget(_ key: Digest128) {
        lock.lock(); pendingKeys.remove(key); lock.unlock()
    }

    /// Writes `pendingFile` as it now stands (removed when nothing is pending).
    public func savePending() {
        guard let pendingFile else { return }
        lock.lock()
        let keys = pendingKeys.map(\.hex).sorted()
        lock.unlock()
        if keys.isEmpty {
            unlink(pendingFile)
        } else {
            try? AtomicFile.write(Array((keys.joined(separator: "\n") + "\n").utf8), to: pendingFile)
        }
    }

    /// Whether an earlier run left results to upload (a run then cannot be a no-op).
    public static func hasPending(_ pendingFile: String) -> Bool {
        FileStat.of(pendingFile) != nil
    }

    /// Waits for every upload started so far, and saves what is still to upload; what was uploaded.
    public func finishUploads() -> UploadTally {
        group.wait()
        savePending()
        lock.lock(); defer { lock.unlock() }
        return uploads
    }

    /// What a transfer moved.
    public struct Moved: Sendable {
        public var results = 0
        public var objects = 0
        public var bytes: Int64 = 0
    }

    /// Copies results from the local cache to the remote: the objects the remote lacks, all at
    /// once, then the manifest of each result whose objects all arrived, so the remote never
    /// holds a manifest whose objects are missing. Compressed local objects are written out
    /// plain under the cache's temporaries first (the remote holds each object's own bytes).
    public func pushAll(_ results: [(key: Digest128, manifest: Manifest)]) -> Moved {
        guard !isDown, !results.isEmpty else { return Moved() }
        let digests = Array(Set(results.flatMap(\.manifest.objectDigests)))
        var moved = Moved()
        var temporaries: [String] = []
        defer { for t in temporaries { unlink(t) } }
        let there: Set<Digest128>
        do { there = try objects.present(digests) } catch { fail("asking what it holds", error); return moved }
        var items: [StoreTransferItem] = []
        var lost = Set<Digest128>()
        for d in digests where !there.contains(d) {
            do {
                guard let (path, temporary) = try local.plainFile(d, scratch: scratch) else {
                    throw MissingObjectError(digest: d, destination: "the local cache")
                }
                if temporary { temporaries.append(path) }
                items.append(StoreTransferItem(digest: d, path: path, size: FileStat.of(path)?.size ?? -1))
            } catch {
                warn("remote cache: cannot upload object \(d.hex): \(error)")
                lost.insert(d)
            }
        }
        let failed = objects.put(items)
        if let (d, e) = failed.first { fail("uploading object \(d.hex)", e) }
        lost.formUnion(failed.keys)
        for i in items where failed[i.digest] == nil {
            moved.objects += 1
            moved.bytes += max(0, i.size)
        }
        let complete = results.filter { !$0.manifest.objectDigests.contains(where: lost.contains) }
        let notStored = actions.put(complete)
        if let (k, e) = notStored.first { fail("uploading the result \(k.hex)", e) }
        for r in complete where notStored[r.key] == nil { forget(r.key) }
        moved.results = complete.count - notStored.count
        return moved
    }
}

extension ObjectStore {
    /// A file holding object `digest`'s own bytes: the object itself when it is stored plain, else
    /// a verified temporary copy under `scratch` (the flag says so; the caller removes it).
    func plainFile(_ digest: Digest128, scratch: String) throws -> (path: String, temporary: Bool)? {
        guard let info = lookup(digest) else { return nil }
        if !info.compressed {
            // Checked first: a local object damaged on disk must not reach every other machine.
            let path = objectPath(digest, compressed: false)
            guard try ContentHash.file(path) == digest else { throw CorruptObjectError(digest: digest, path: path) }
            return (path, false)
        }
        let tmp = scratch + "/" + TemporaryName.make()
        try restore(digest, to: tmp, executable: false, link: .copy)
        return (tmp, true)
    }
}

/// A manifest on the remote that fails the checks every manifest read from a cache must pass.
public struct UnusableRemoteManifest: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { "its manifest is damaged or unsafe (\(reason)); it was not used" }
}
