/// Why a transfer failed. Switch on `kind`, never on `description`, which is for people: it names
/// the method and the URL (never credentials, and never a query string, which may carry a
/// signature) and adds curl's own message.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// Nothing listens at the remote's host and port (`ECONNREFUSED`).
        case connectionRefused
        /// The host name does not resolve.
        case cannotResolveHost
        /// The connection broke before a response was complete: reset, closed with nothing sent,
        /// an HTTP/2 stream error.
        case connectionFailed
        /// No connection within `Configuration.connectTimeout`.
        case connectTimeout
        /// Less than one byte a second moved for `Configuration.stallTimeout`.
        case stalled
        /// The transfer took longer than `Configuration.totalTimeout`.
        case totalTimeout
        /// The connection closed before the whole body announced by Content-Length arrived.
        case truncatedBody
        /// The server answered with this status: any 4xx or 5xx, except 404 on GET and HEAD,
        /// which is `Lookup.notFound`.
        case status(Int)
        /// The caller's `verify` rejected a downloaded file.
        case rejectedBody
        /// A body for `getData` larger than `Configuration.maxDataSize`.
        case bodyTooLarge
        /// The TLS handshake or the certificate check failed.
        case tls
        /// A redirect not followed: more than five in a row, to a scheme other than http(s), or
        /// one that would turn a PUT into a GET.
        case redirect
        /// Credentials over plain http:// without `allowInsecureHTTP`, credentials that cannot be
        /// sent as they are (a newline in a token), or a URL with a user or password in it.
        case insecureCredentials
        /// A base URL or path the client will not use (see `RemotePath`).
        case invalidURL
        /// Reading the file to upload, or writing the downloaded one, failed with this errno.
        case localFile(Int32)
        /// The circuit breaker is open: nothing was sent (see `HTTPClient.downReason`).
        case remoteDown
        /// Any other curl failure, by its `CURLcode`.
        case curl(Int32)
    }

    public var kind: Kind
    /// `GET`, `HEAD` or `PUT`; empty for a configuration error.
    public var method: String
    /// The URL as tried, without user, password or query.
    public var url: String
    /// How many times the request was sent (0 when it never was).
    public var attempts: Int
    /// curl's message, or what the client found.
    public var detail: String

    public init(_ kind: Kind, method: String = "", url: String = "", attempts: Int = 0, detail: String = "") {
        self.kind = kind
        self.method = method
        self.url = url
        self.attempts = attempts
        self.detail = detail
    }

    /// Worth trying again after a pause: the connection, a timeout, 5xx, 429 and 408, a body cut
    /// short or rejected. Never another 4xx: the same request would get the same answer.
    public var isTransient: Bool {
        switch kind {
        case .connectionRefused, .connectionFailed, .connectTimeout, .stalled, .totalTimeout,
             .truncatedBody, .rejectedBody:
            return true
        case .status(let code):
            return code >= 500 || code == 429 || code == 408
        default:
            return false
        }
    }

    /// Counts towards the circuit breaker: the remote itself looks unusable (unreachable, slow,
    /// failing, serving damaged bodies, bad TLS). A 4xx is about one request and does not count;
    /// neither do local files.
    var countsAgainstRemote: Bool {
        switch kind {
        case .cannotResolveHost, .tls, .bodyTooLarge: return true
        case .status(let code): return code >= 500 || code == 429
        default: return isTransient
        }
    }

    public var description: String {
        var what: String
        switch kind {
        case .connectionRefused: what = "connection refused"
        case .cannotResolveHost: what = "cannot resolve the host"
        case .connectionFailed: what = "connection failed"
        case .connectTimeout: what = "timed out connecting"
        case .stalled: what = "transfer stalled"
        case .totalTimeout: what = "transfer took too long"
        case .truncatedBody: what = "body cut short"
        case .status(let code): what = "HTTP \(code)"
        case .rejectedBody: what = "downloaded body rejected (damaged?)"
        case .bodyTooLarge: what = "body too large"
        case .tls: what = "TLS failed"
        case .redirect: what = "redirect not followed"
        case .insecureCredentials: what = "credentials refused"
        case .invalidURL: what = "invalid URL or path"
        case .localFile(let code): what = "local file: errno \(code)"
        case .remoteDown: what = "remote marked down"
        case .curl(let code): what = "curl error \(code)"
        }
        let request = [method, url].filter { !$0.isEmpty }.joined(separator: " ")
        if !request.isEmpty { what = "\(request): \(what)" }
        if attempts > 1 { what += " (after \(attempts) attempts)" }
        if !detail.isEmpty { what += ": \(detail)" }
        return what
    }
}
