import Foundation
import HTTP
import XXHash

/// The remote cache over HTTP(S), in Bazel's layout, so that any server that stores what it is
/// given serves it (nginx with WebDAV PUT, Apache mod_dav, bazel-remote): `cas/<digest>` holds an
/// object's own bytes (never LZ4), `ac/<key>` an action's manifest in flow's text form.
///
/// Every batch runs its transfers at once (see `HTTPClient`). A downloaded object is checked
/// against its digest before the batch reports it, and a body that does not match is fetched
/// again, then reported as an error: nothing unverified reaches the local cache.
public final class RemoteCache: ObjectStoring, ActionStoring {
    let client: HTTPClient
    public var onProgress: (@Sendable (StoreProgress) -> Void)?

    /// Environment variables that tune the client (the credentials' are `Credentials`'s).
    public static let stallTimeoutVariable = "FLOW_REMOTE_TIMEOUT"
    public static let retriesVariable = "FLOW_REMOTE_RETRIES"

    public init(url: String, allowInsecureHTTP: Bool, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        var c = HTTPClient.Configuration(baseURL: url)
        c.credentials = try Credentials.fromEnvironment(environment)
        // ~/.netrc when there is one and no credentials were given, only where credentials may go.
        let netrc = (environment["HOME"] ?? NSHomeDirectory()) + "/.netrc"
        c.useNetrc = c.credentials == nil && FileManager.default.fileExists(atPath: netrc)
            && (url.lowercased().hasPrefix("https://") || allowInsecureHTTP)
        c.allowInsecureHTTP = allowInsecureHTTP
        c.maxParallelTransfers = 16
        if let s = environment[Self.stallTimeoutVariable].flatMap(Double.init), s > 0 { c.stallTimeout = .milliseconds(Int(s * 1000)) }
        if let n = environment[Self.retriesVariable].flatMap(Int.init), n >= 0 { c.retry.retries = n }
        client = try HTTPClient(configuration: c)
    }

    static func casPath(_ d: Digest128) -> String { "cas/" + d.hex }
    static func acPath(_ k: Digest128) -> String { "ac/" + k.hex }

    func relay(_ p: TransferProgress) {
        onProgress?(StoreProgress(objectsDone: p.transfersDone, objectsTotal: p.transfersTotal, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal))
    }

    public func present(_ digests: [Digest128]) throws -> Set<Digest128> {
        var found = Set<Digest128>()
        for (d, r) in zip(digests, client.head(digests.map(Self.casPath))) {
            switch r {
            case .success(.found): found.insert(d)
            case .success(.notFound): continue
            case .failure(let e): throw e
            }
        }
        return found
    }

    public func get(_ objects: [StoreTransferItem]) -> [Digest128: Error] {
        let downloads = objects.map { Download(path: Self.casPath($0.digest), destination: $0.path) }
        // Each body is hashed as it arrives (the batch calls both closures on its one thread).
        var hashers = objects.map { _ in XXH128Hasher() }
        var index: [String: Int] = [:]
        for (i, o) in objects.enumerated() { index[o.path] = i }
        let results = client.get(downloads, verify: { d in
            guard let i = index[d.destination] else { return false }
            return hashers[i].finalize() == objects[i].digest
        }, observe: { i, bytes in
            if let bytes { hashers[i].update(bytes) } else { hashers[i] = XXH128Hasher() }
        }, progress: relay)
        var failed: [Digest128: Error] = [:]
        for (o, r) in zip(objects, results) {
            switch r {
            case .success(.found): continue
            case .success(.notFound): failed[o.digest] = RemoteObjectMissing(digest: o.digest)
            case .failure(let e): failed[o.digest] = e
            }
        }
        return failed
    }

    public func put(_ objects: [StoreTransferItem]) -> [Digest128: Error] {
        let results = client.put(objects.map { Upload(path: Self.casPath($0.digest), source: $0.path) }, progress: relay)
        var failed: [Digest128: Error] = [:]
        for (o, r) in zip(objects, results) { if case .failure(let e) = r { failed[o.digest] = e } }
        return failed
    }

    public func manifest(for key: Digest128) throws -> Manifest? {
        guard let data = try client.getData(Self.acPath(key)) else { return nil }
        return Manifest(text: String(decoding: data, as: UTF8.self))
    }

    public func put(_ manifest: Manifest, for key: Digest128) throws {
        try client.putData(Self.acPath(key), Data(manifest.text.utf8))
    }

    public func manifests(for keys: [Digest128]) -> [Digest128: Result<Manifest?, Error>] {
        var result: [Digest128: Result<Manifest?, Error>] = [:]
        for (k, r) in zip(keys, client.getData(keys.map(Self.acPath))) {
            result[k] = r.map { $0.flatMap { Manifest(text: String(decoding: $0, as: UTF8.self)) } }.mapError { $0 }
        }
        return result
    }

    public func put(_ results: [(key: Digest128, manifest: Manifest)]) -> [Digest128: Error] {
        var failed: [Digest128: Error] = [:]
        for (r, outcome) in zip(results, client.putData(results.map { (Self.acPath($0.key), Data($0.manifest.text.utf8)) })) {
            if case .failure(let e) = outcome { failed[r.key] = e }
        }
        return failed
    }
}

/// A manifest on the remote names an object the remote does not hold (a half-finished upload
/// by a writer that does not put objects first, or a server that lost it).
public struct RemoteObjectMissing: Error, CustomStringConvertible {
    public var digest: Digest128
    public var description: String { "the remote cache has no object \(digest.hex)" }
}
