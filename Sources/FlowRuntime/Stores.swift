import Foundation
import XXHash

// The two seams of the cache. The local cache directory is the first implementation of each
// (`ObjectStore`, `ActionCache`); the HTTP remote (`RemoteCache`) is the second. What moves
// results between two stores (`flow push`, `flow pull`, a remote hit in `flow run`) is written
// once, against these protocols (`StoreTransfer`).
//
// Nothing read from a store is trusted: a manifest passes `Manifest.problem(declared:)` before
// any of its paths is used, and an object's bytes are checked against its digest before they
// are kept.

/// Content-addressed objects: bytes by their XXH3-128 digest. Batched, so that a remote store
/// can run many transfers at once; the local one does them in turn.
public protocol ObjectStoring: AnyObject {
    /// Which of `digests` the store holds (a failure to ask throws).
    func present(_ digests: [Digest128]) throws -> Set<Digest128>
    /// Writes each object's bytes to its path (a new file), verified against its digest. The
    /// objects that could not be fetched are returned with why; their paths hold nothing.
    func get(_ objects: [StoreTransferItem]) -> [Digest128: Error]
    /// Stores the file at each path as the object of its digest (which the caller computed and
    /// the store may check). Returns the objects that could not be stored, with why.
    func put(_ objects: [StoreTransferItem]) -> [Digest128: Error]
    /// Called as a batch of `get` or `put` moves (from any thread); a remote store reports.
    var onProgress: (@Sendable (StoreProgress) -> Void)? { get set }
}

/// How far a batch of transfers has come.
public struct StoreProgress: Sendable {
    public var objectsDone = 0
    public var objectsTotal = 0
    public var bytesDone: Int64 = 0
    /// 0 when not known (downloads whose sizes the server has not told yet).
    public var bytesTotal: Int64 = 0

    public init(objectsDone: Int = 0, objectsTotal: Int = 0, bytesDone: Int64 = 0, bytesTotal: Int64 = 0) {
        self.objectsDone = objectsDone
        self.objectsTotal = objectsTotal
        self.bytesDone = bytesDone
        self.bytesTotal = bytesTotal
    }
}

/// Action results: the manifest of each action key. Manifests are untrusted input.
public protocol ActionStoring: AnyObject {
    /// The manifest stored for `key`; nil when there is none (or it is not a whole manifest).
    func manifest(for key: Digest128) throws -> Manifest?
    /// Stores `manifest` for `key`. A store must make it visible only once it is whole, and a
    /// writer puts every object the manifest names first.
    func put(_ manifest: Manifest, for key: Digest128) throws
    /// Many lookups at once (a remote runs them in parallel): each key's manifest or nil, or the
    /// error that stopped the lookup.
    func manifests(for keys: [Digest128]) -> [Digest128: Result<Manifest?, Error>]
    /// Many manifests at once; the keys that could not be stored, with why.
    func put(_ results: [(key: Digest128, manifest: Manifest)]) -> [Digest128: Error]
}

extension ActionStoring {
    public func manifests(for keys: [Digest128]) -> [Digest128: Result<Manifest?, Error>] {
        var result: [Digest128: Result<Manifest?, Error>] = [:]
        for k in keys { result[k] = Result { try manifest(for: k) } }
        return result
    }

    public func put(_ results: [(key: Digest128, manifest: Manifest)]) -> [Digest128: Error] {
        var failed: [Digest128: Error] = [:]
        for r in results {
            do { try put(r.manifest, for: r.key) } catch { failed[r.key] = error }
        }
        return failed
    }
}

/// A store that flow keeps tidy: `flow gc` and `flow verify` walk it.
public protocol ManagedObjectStoring: ObjectStoring {
    /// Every stored object: digest, where it is, and its size in the store.
    func allObjects() -> [(digest: Digest128, path: String, bytes: Int64)]
    /// Re-hashes one object; false (and the object removed, unless `dryRun`) when it is corrupt.
    func verify(_ digest: Digest128, dryRun: Bool) -> Bool
    func remove(_ digest: Digest128)
}

public protocol ManagedActionStoring: ActionStoring {
    /// Every readable manifest, with its key.
    func all() -> [(key: Digest128, manifest: Manifest)]
    func remove(_ key: Digest128)
}

/// One object to move: its digest and the file it comes from or goes to.
public struct StoreTransferItem: Sendable {
    public var digest: Digest128
    public var path: String
    public var size: Int64

    public init(digest: Digest128, path: String, size: Int64 = -1) {
        self.digest = digest
        self.path = path
        self.size = size
    }
}

// MARK: - The local cache directory

extension ObjectStore: ManagedObjectStoring {
    // Local copies are quick: nothing to report.
    public var onProgress: (@Sendable (StoreProgress) -> Void)? {
        get { nil }
        set {}
    }

    public func present(_ digests: [Digest128]) -> Set<Digest128> {
        Set(digests.filter(contains))
    }

    public func get(_ objects: [StoreTransferItem]) -> [Digest128: Error] {
        var failed: [Digest128: Error] = [:]
        for o in objects {
            do { try restore(o.digest, to: o.path, executable: false, link: .copy) } catch { failed[o.digest] = error }
        }
        return failed
    }

    public func put(_ objects: [StoreTransferItem]) -> [Digest128: Error] {
        var failed: [Digest128: Error] = [:]
        for o in objects {
            do {
                // Hashed again while stored: a file that is not what its digest says is refused.
                let info = try ingest(o.path)
                if info.digest != o.digest {
                    failed[o.digest] = CorruptObjectError(digest: o.digest, path: o.path)
                }
            } catch {
                failed[o.digest] = error
            }
        }
        return failed
    }

    /// Takes files that a store's `get` has just checked against their digests into this store
    /// by renaming them (no copy, no second hash). Each must be on this store's file system, as
    /// its `tmp/` is.
    func adopt(_ objects: [StoreTransferItem]) -> [Digest128: Error] {
        var failed: [Digest128: Error] = [:]
        for o in objects {
            do {
                try publish(o.path, digest: o.digest, compressed: false)
                justVerified.insert(o.digest)
            } catch {
                failed[o.digest] = error
            }
        }
        return failed
    }

    public func remove(_ digest: Digest128) {
        var removed = false
        for compressed in [false, true] where unlink(objectPath(digest, compressed: compressed)) == 0 { removed = true }
        if removed { CacheGeneration.bump(root) }
    }
}

extension ActionCache: ManagedActionStoring {
    public func manifest(for key: Digest128) -> Manifest? { lookup(key) }
    public func put(_ manifest: Manifest, for key: Digest128) throws { try store(manifest, key: key) }
}

/// A set shared between threads: digests between the run and its upload queue, directories
/// between restores.
final class LockedSet<Element: Hashable>: @unchecked Sendable {
    // @unchecked: `elements` is read and written only under `lock`.
    private let lock = NSLock()
    private var elements = Set<Element>()

    /// Adds `e`; true when it was not there yet.
    @discardableResult
    func insert(_ e: Element) -> Bool { lock.lock(); defer { lock.unlock() }; return elements.insert(e).inserted }
    func contains(_ e: Element) -> Bool { lock.lock(); defer { lock.unlock() }; return elements.contains(e) }
}
