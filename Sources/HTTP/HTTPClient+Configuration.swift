import Foundation

extension HTTPClient {
    /// Everything an `HTTPClient` needs to know; fixed for the client's life.
    public struct Configuration: Sendable {
        /// The remote: `https://host[:port][/prefix]`. Paths such as `cas/<digest>` are appended
        /// to it. No user or password in it: use `credentials`.
        public var baseURL: String
        /// How long to wait for a connection (TCP and TLS).
        public var connectTimeout: Duration = .seconds(10)
        /// A transfer that moves less than one byte a second for this long has stalled
        /// (`CURLOPT_LOW_SPEED_TIME`, whole seconds, at least 1).
        public var stallTimeout: Duration = .seconds(30)
        /// The most a single transfer may take; nil for no limit, which suits objects of any size
        /// (a stalled transfer is caught by `stallTimeout`).
        public var totalTimeout: Duration? = nil
        /// Transfers in flight at once. Over HTTP/2 they share connections; over HTTP/1.1 each
        /// takes one, and connections are kept for the next batch.
        public var maxParallelTransfers: Int = 8
        public var credentials: Credentials? = nil
        /// Take credentials for the remote's host from `~/.netrc` when `credentials` is nil
        /// (`CURLOPT_NETRC`, optional mode).
        public var useNetrc: Bool = false
        /// Allows credentials (explicit or from .netrc) over plain http://, to any host,
        /// loopback included: a local test server, or a network the caller trusts.
        public var allowInsecureHTTP: Bool = false
        /// A PEM bundle of the certificate authorities to trust instead of the system's
        /// (`CURLOPT_CAINFO`), for a remote with a private CA.
        public var caBundlePath: String? = nil
        public var retry: RetryPolicy = RetryPolicy()
        /// After this many transfers in a row have failed on the remote's side (see
        /// `HTTPError.isTransient`; TLS and name resolution count too, a 4xx does not), the
        /// remote is down for the client's life; 0 never gives up.
        public var circuitBreakerThreshold: Int = 5
        /// The largest body `getData` accepts: it is kept in memory.
        public var maxDataSize: Int = 16 << 20
        public var userAgent: String = "flow"

        public init(baseURL: String) {
            self.baseURL = baseURL
        }
    }

    /// When and how often a transient failure is tried again.
    public struct RetryPolicy: Sendable {
        /// Tries after the first; 0 never retries.
        public var retries: Int = 3
        /// The pause before the first retry; it doubles for each one after, up to `maxBackoff`.
        public var initialBackoff: Duration = .milliseconds(200)
        public var maxBackoff: Duration = .seconds(10)
        /// Each pause is drawn between half and all of its nominal value, so that many clients
        /// failing together do not all come back at the same moment.
        public var jitter: Bool = true

        public init(retries: Int = 3, initialBackoff: Duration = .milliseconds(200),
                    maxBackoff: Duration = .seconds(10), jitter: Bool = true) {
            self.retries = retries
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
            self.jitter = jitter
        }

        /// The pause before retry `n` (1 for the first), before jitter.
        public func nominalDelay(beforeRetry n: Int) -> Duration {
            let factor = Double(1 << min(max(n - 1, 0), 30))
            return min(initialBackoff * factor, maxBackoff)
        }

        func delay(beforeRetry n: Int) -> Duration {
            let nominal = nominalDelay(beforeRetry: n)
            return jitter ? nominal * Double.random(in: 0.5...1.0) : nominal
        }
    }
}

/// Scheme, host and port: credentials go only where all three match the base URL's.
struct Origin: Equatable {
    var scheme: String
    var host: String
    var port: Int

    init?(_ url: String) {
        guard let c = URLComponents(string: url), let scheme = c.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = c.host?.lowercased(), !host.isEmpty else { return nil }
        self.scheme = scheme
        self.host = host
        port = c.port ?? (scheme == "https" ? 443 : 80)
    }
}

/// `url` without user, password, query or fragment: what errors may show.
func redacted(_ url: String) -> String {
    guard var c = URLComponents(string: url) else { return "(unparsable URL)" }
    c.user = nil
    c.password = nil
    let hadQuery = c.query != nil
    c.query = nil
    c.fragment = nil
    guard let s = c.string else { return "(unparsable URL)" }
    return hadQuery ? s + "?…" : s
}

extension Duration {
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
