import CCurl
import Foundation

/// What HEAD or GET found at a path.
public enum Lookup: Sendable, Hashable {
    /// There, with its size: Content-Length for HEAD (nil when the server sent none), the bytes
    /// written for GET.
    case found(size: Int64?)
    /// 404: not an error, the remote simply does not have it.
    case notFound
}

/// A GET whose body is streamed to `destination`, a temporary file the caller names. The file is
/// created or truncated; after a failure or a 404 it is removed. It holds exactly the body when
/// the result is `.found`: check its digest before moving it into place.
public struct Download: Sendable, Hashable {
    public var path: String
    public var destination: String
    public init(path: String, destination: String) {
        self.path = path
        self.destination = destination
    }
}

/// A PUT of the file at `source`, streamed, with its size as Content-Length.
public struct Upload: Sendable, Hashable {
    public var path: String
    public var source: String
    public init(path: String, source: String) {
        self.path = path
        self.source = source
    }
}

/// Where a batch stands, for a progress line.
public struct TransferProgress: Sendable, Hashable {
    /// Bytes moved so far. It goes back when a transfer restarts after a failure.
    public var bytesDone: Int64
    /// Bytes known to be coming: upload sizes, and download sizes once their headers arrived.
    public var bytesTotal: Int64
    public var transfersDone: Int
    public var transfersTotal: Int

    public init(bytesDone: Int64, bytesTotal: Int64, transfersDone: Int, transfersTotal: Int) {
        self.bytesDone = bytesDone
        self.bytesTotal = bytesTotal
        self.transfersDone = transfersDone
        self.transfersTotal = transfersTotal
    }
}

/// A client for a flow remote cache over HTTP(S), laid out as Bazel's: `cas/<digest>` holds
/// objects, `ac/<key>` manifests; HEAD, GET and PUT, which a plain nginx with WebDAV PUT serves.
///
/// Each batch call runs all its transfers at once over curl's multi interface, at most
/// `maxParallelTransfers` in flight, multiplexed over HTTP/2 where the server offers it, and
/// returns one result per request, in order. It blocks the calling thread, and calls `progress`
/// (at most every 100 ms, and once at the end) and `verify` on it; neither may start a batch on
/// the same client, which would wait for itself. Batches from several threads are safe but run
/// one after another: they share one connection pool, kept from batch to batch.
///
/// Transient failures are retried with exponential backoff (`RetryPolicy`). After
/// `circuitBreakerThreshold` transfers in a row failed on the remote's side, the remote is down
/// for the rest of the client's life: every transfer fails at once with `.remoteDown`, and
/// `downReason` tells why, for the caller to say once.
public final class HTTPClient: @unchecked Sendable {
    // @unchecked Sendable: `configuration` and `base` are constants; `multi` is touched only
    // while `batchLock` is held; the breaker's fields only while `stateLock` is held.
    public let configuration: Configuration
    let base: String
    let origin: Origin
    let multi: UnsafeMutableRawPointer
    let batchLock = NSLock()
    let stateLock = NSLock()
    var consecutiveFailures = 0
    var firstOfRun: HTTPError?
    var down: HTTPError?

    /// Checks the configuration: an http(s) URL without user or password in it, credentials that
    /// can be sent, and none over plain http:// unless `allowInsecureHTTP`.
    public init(configuration: Configuration) throws(HTTPError) {
        _ = curlGlobal
        var base = configuration.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        guard let components = URLComponents(string: base), let origin = Origin(base),
              components.query == nil, components.fragment == nil else {
            throw HTTPError(.invalidURL, url: redacted(configuration.baseURL), detail: "not an http:// or https:// URL without query")
        }
        guard components.user == nil && components.password == nil else {
            throw HTTPError(.insecureCredentials, url: redacted(base),
                            detail: "put the user and password in \(Credentials.userVariable) and \(Credentials.passwordVariable), not in the URL")
        }
        try configuration.credentials?.validate()
        if origin.scheme == "http" && !configuration.allowInsecureHTTP
            && (configuration.credentials != nil || configuration.useNetrc) {
            throw HTTPError(.insecureCredentials, url: redacted(base),
                            detail: "credentials would cross the network in clear over http://; use https:// (or allow insecure HTTP)")
        }
        precondition(configuration.maxParallelTransfers > 0, "maxParallelTransfers must be positive")
        guard let multi = curl_multi_init() else { fatalError("curl_multi_init failed: out of memory") }
        _ = flow_curl_multi_setopt_long(multi, CURLMOPT_PIPELINING, flow_CURLPIPE_MULTIPLEX)
        _ = flow_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, configuration.maxParallelTransfers)
        _ = flow_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, configuration.maxParallelTransfers)
        self.configuration = configuration
        self.base = base
        self.origin = origin
        self.multi = multi
    }

    deinit { curl_multi_cleanup(multi) }

    /// The full URL of `path` under the base URL.
    public func url(for path: String) -> String { base + "/" + path }

    /// True once the circuit breaker is open.
    public var isDown: Bool { downReason != nil }

    /// The first of the failures in a row that opened the circuit breaker; nil while closed.
    public var downReason: HTTPError? {
        stateLock.lock()
        defer { stateLock.unlock() }
        return down
    }

    /// HEAD of each path: its size, or `.notFound`.
    public func head(_ paths: [String], progress: ((TransferProgress) -> Void)? = nil) -> [Result<Lookup, HTTPError>] {
        let transfers = paths.enumerated().map { i, path in
            Transfer(index: i, method: .head, path: path, url: url(for: path), maxDataSize: configuration.maxDataSize)
        }
        run(transfers, verify: nil, progress: progress)
        return transfers.map { $0.outcome ?? .failure($0.error(.curl(-1), "not run")) }
    }

    /// GET of each path into its destination file. `verify` is called with each download once
    /// its file is complete; false fails it with `.rejectedBody`, which is retried. `observe`,
    /// when given, sees each download's body as it is written (by index; nil when an attempt
    /// starts over), so that a caller can hash it on the way instead of reading the file again.
    public func get(_ downloads: [Download], verify: ((Download) -> Bool)? = nil,
                    observe: ((Int, UnsafeRawBufferPointer?) -> Void)? = nil,
                    progress: ((TransferProgress) -> Void)? = nil) -> [Result<Lookup, HTTPError>] {
        let transfers = downloads.enumerated().map { i, d in
            let t = Transfer(index: i, method: .get, path: d.path, url: url(for: d.path), sink: .file(d.destination),
                             maxDataSize: configuration.maxDataSize)
            if let observe { t.observe = { observe(i, $0) } }
            return t
        }
        run(transfers, verify: verify.map { verify in { verify(downloads[$0]) } }, progress: progress)
        return transfers.map { $0.outcome ?? .failure($0.error(.curl(-1), "not run")) }
    }

    /// PUT of each file; the result is the number of bytes sent.
    public func put(_ uploads: [Upload], progress: ((TransferProgress) -> Void)? = nil) -> [Result<Int64, HTTPError>] {
        let transfers = uploads.enumerated().map { i, u in
            Transfer(index: i, method: .put, path: u.path, url: url(for: u.path), source: .file(u.source),
                     maxDataSize: configuration.maxDataSize)
        }
        run(transfers, verify: nil, progress: progress)
        return transfers.map { t in sentBytes(t) }
    }

    /// GET of small bodies (manifests) into memory: nil for a 404. A body larger than
    /// `maxDataSize` fails with `.bodyTooLarge`.
    public func getData(_ paths: [String]) -> [Result<Data?, HTTPError>] {
        let transfers = paths.enumerated().map { i, path in
            Transfer(index: i, method: .get, path: path, url: url(for: path), sink: .memory, maxDataSize: configuration.maxDataSize)
        }
        run(transfers, verify: nil, progress: nil)
        return transfers.map { t in
            switch t.outcome {
            case .success(.found)?: return .success(t.data)
            case .success(.notFound)?: return .success(nil)
            case .failure(let e)?: return .failure(e)
            case nil: return .failure(t.error(.curl(-1), "not run"))
            }
        }
    }

    /// GET of one small body; nil for a 404.
    public func getData(_ path: String) throws(HTTPError) -> Data? {
        try getData([path])[0].get()
    }

    /// PUT of small bodies from memory.
    public func putData(_ items: [(path: String, data: Data)]) -> [Result<Int64, HTTPError>] {
        let transfers = items.enumerated().map { i, item in
            Transfer(index: i, method: .put, path: item.path, url: url(for: item.path), source: .memory(item.data),
                     maxDataSize: configuration.maxDataSize)
        }
        run(transfers, verify: nil, progress: nil)
        return transfers.map { t in sentBytes(t) }
    }

    /// PUT of one small body.
    public func putData(_ path: String, _ data: Data) throws(HTTPError) {
        _ = try putData([(path, data)])[0].get()
    }

    private func sentBytes(_ t: Transfer) -> Result<Int64, HTTPError> {
        switch t.outcome {
        case .success(.found(let size))?: return .success(size ?? 0)
        case .success(.notFound)?: return .failure(t.error(.status(404)))
        case .failure(let e)?: return .failure(e)
        case nil: return .failure(t.error(.curl(-1), "not run"))
        }
    }
}

/// curl_global_init, once per process, before the first handle (Swift runs a global's
/// initializer once, thread-safely).
private let curlGlobal: CURLcode = curl_global_init(flow_CURL_GLOBAL_DEFAULT)
