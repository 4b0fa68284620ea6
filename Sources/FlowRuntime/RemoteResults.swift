import Foundation
import FlowCore
import XXHash

/// How a workspace uses its remote cache.
public enum RemoteMode: String, CaseIterable, Sendable {
    /// Fetch results that are not in the local cache, and upload what this machine computes.
    case readWrite = "read-write"
    /// Fetch only (a laptop): nothing is uploaded.
    case readOnly = "read-only"
    /// Upload only (a CI job that must compute everything itself): nothing is fetched.
    case writeOnly = "write"

    public var fetches: Bool { self != .writeOnly }
    public var uploads: Bool { self != .readOnly }
}

/// A remote cache as one run sees it: results fetched into the local cache before a step would
/// run, results uploaded after a step ran, each through the store protocols. A remote that fails
/// is reported once and then left alone for the rest of the process: the run goes on locally.
public final class RemoteResults: @unchecked Sendable {
    // @unchecked: the uploads run on a queue of their own; every mutable field below is guarded
    // by `lock`, and the local store is touched there only to read objects (see `upload`).
    public let objects: any ObjectStoring
    public let actions: any ActionStoring
    public let mode: RemoteMode
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
        let manifest: Manifest?
        do { manifest = try actions.manifest(for: key) } catch { fail("looking up \(step.name)", error); return nil }
        guard let manifest else { return nil }
        if let reason = manifest.problem(declared: step.outputs) {
            warn("remote cache: the result of \(step.name) is not usable (\(reason)); ignored")
            return nil
        }
        guard manifest.key == key.hex else { return nil }
        return manifest
    }

    /// Brings the result of `key` into the local cache: the objects it lacks are downloaded into
    /// the cache's temporaries, verified, stored, and only then the manifest. Nil when the remote
    /// has no usable result or a transfer fails (the step then runs).
    public func fetch(_ key: Digest128, for step: Step) -> Manifest? {
        guard let manifest = peek(key, for: step) else { return nil }
        let needed = Array(Set(manifest.objectDigests)).filter { !local.contains($0) }
        if !needed.isEmpty {
            let items = needed.map { StoreTransferItem(digest: $0, path: scratch + "/" + TemporaryName.make()) }
            defer { for i in items { unlink(i.path) } }
            if let (d, error) = objects.get(items).first {
                fail("downloading object \(d.hex) of \(step.name)", error)
                return nil
            }
            if let (d, error) = local.put(items).first {
                warn("remote cache: cannot keep object \(d.hex) of \(step.name): \(error)")
                return nil
            }
        }
        do { try localActions.put(manifest, for: key) } catch {
            warn("remote cache: cannot keep the result of \(step.name): \(error)")
            return nil
        }
        return manifest
    }

    /// Uploads a result in the background: the objects the remote lacks first, the manifest last,
    /// so that the remote never holds a manifest whose objects are missing.
    public func upload(_ manifest: Manifest, key: Digest128) {
        guard mode.uploads else { return }
        group.enter()
        queue.async { [self] in
            defer { group.leave() }
            guard !isDown else { return }
            let moved = Self.push(manifest, key: key, from: local, to: (objects, actions), scratch: scratch)
            lock.lock()
            switch moved {
            case .success(let t):
                uploads.results += 1; uploads.objects += t.objects; uploads.bytes += t.bytes
            case .failure:
                uploads.failed += 1
            }
            lock.unlock()
            if case .failure(let e) = moved { fail("uploading the result of \(manifest.step)", e.error) }
        }
    }

    /// Waits for every upload started so far; what was uploaded.
    public func finishUploads() -> UploadTally {
        group.wait()
        lock.lock(); defer { lock.unlock() }
        return uploads
    }

    /// What one result's transfer moved.
    public struct Moved: Sendable {
        public var objects = 0
        public var bytes: Int64 = 0
    }

    public struct TransferError: Error, CustomStringConvertible {
        public var error: Error
        public var description: String { "\(error)" }
    }

    /// Copies one result from the local cache to `remote`: the objects it lacks, then the manifest.
    /// Compressed local objects are written out plain under `scratch` first (the remote holds
    /// each object's own bytes).
    static func push(_ manifest: Manifest, key: Digest128, from local: ObjectStore, to remote: (any ObjectStoring, any ActionStoring),
                     scratch: String) -> Result<Moved, TransferError> {
        let digests = Array(Set(manifest.objectDigests))
        do {
            let there = try remote.0.present(digests)
            var items: [StoreTransferItem] = []
            var temporaries: [String] = []
            defer { for t in temporaries { unlink(t) } }
            for d in digests where !there.contains(d) {
                guard let (path, temporary) = try local.plainFile(d, scratch: scratch) else {
                    throw MissingObjectError(digest: d, destination: manifest.step)
                }
                if temporary { temporaries.append(path) }
                items.append(StoreTransferItem(digest: d, path: path, size: FileStat.of(path)?.size ?? -1))
            }
            if let (_, error) = remote.0.put(items).first { throw error }
            try remote.1.put(manifest, for: key)
            return .success(Moved(objects: items.count, bytes: items.reduce(0) { $0 + max(0, $1.size) }))
        } catch {
            return .failure(TransferError(error: error))
        }
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
