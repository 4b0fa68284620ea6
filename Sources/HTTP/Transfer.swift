import CCurl
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One request of a batch, through all its attempts and redirects. Lives on the batch's thread;
/// curl's callbacks reach it through an unretained pointer while the batch's array holds it.
final class Transfer {
    enum Method: String { case head = "HEAD", get = "GET", put = "PUT" }
    enum Sink { case discard, file(String), memory }
    enum Source { case none, file(String), memory(Data) }

    /// How an attempt ended.
    enum Ending {
        case done(Lookup)
        case redirect(String)
        case failed(HTTPError)
    }

    let index: Int
    let method: Method
    let path: String
    let sink: Sink
    let source: Source
    let maxDataSize: Int
    /// Told each piece of a downloaded body as it is written, and nil when an attempt starts over.
    var observe: ((UnsafeRawBufferPointer?) -> Void)?

    /// The URL of the current hop, and whether credentials go with it (same origin as the base).
    var url: String
    var withCredentials = true
    var attempts = 0
    var redirects = 0
    /// When a retry may start; nil while not waiting.
    var readyAt: ContinuousClock.Instant?
    var outcome: Result<Lookup, HTTPError>?

    // The current attempt.
    private(set) var easy: UnsafeMutableRawPointer?
    private var headers: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private var fd: Int32 = -1
    private(set) var data = Data()
    private var uploadOffset = 0
    private(set) var uploadSize: Int64?
    private(set) var received: Int64 = 0
    private(set) var sent: Int64 = 0
    private var localErrno: Int32 = 0
    private var tooLarge = false
    /// The destination was opened (and so truncated) by an attempt: it is ours to remove.
    private var wroteDestination = false
    /// When a byte last moved (header or body, either way), or when the request was seen sent;
    /// nil until then, while `connectTimeout` applies.
    private var lastActivity: ContinuousClock.Instant?

    init(index: Int, method: Method, path: String, url: String, sink: Sink = .discard, source: Source = .none,
         maxDataSize: Int) {
        self.index = index
        self.method = method
        self.path = path
        self.url = url
        self.sink = sink
        self.source = source
        self.maxDataSize = maxDataSize
        errorBuffer = .allocate(capacity: Int(flow_CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(flow_CURL_ERROR_SIZE))
    }

    deinit {
        endAttempt()
        errorBuffer.deallocate()
    }

    func error(_ kind: HTTPError.Kind, _ detail: String = "") -> HTTPError {
        HTTPError(kind, method: method.rawValue, url: redacted(url), attempts: attempts, detail: detail)
    }

    /// Bytes moved by the current attempt, and those expected (nil while unknown).
    var progress: (done: Int64, expected: Int64?) {
        switch method {
        case .put: return (sent, uploadSize)
        case .head: return (0, 0)
        case .get:
            var length: curl_off_t = -1
            if let easy { _ = flow_curl_getinfo_off(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) }
            return (received, length >= 0 ? Int64(length) : nil)
        }
    }

    /// Opens the files and makes the easy handle for the next attempt.
    func beginAttempt(_ configuration: HTTPClient.Configuration) throws(HTTPError) -> UnsafeMutableRawPointer {
        endAttempt()
        received = 0
        sent = 0
        data = Data()
        uploadOffset = 0
        localErrno = 0
        tooLarge = false
        lastActivity = nil
        errorBuffer[0] = 0
        observe?(nil)
        switch sink {
        case .file(let destination):
            // Truncated on every attempt: a retry starts the body again.
            fd = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if fd < 0 { throw error(.localFile(errno), "cannot create \(destination)") }
            wroteDestination = true
        case .discard, .memory: break
        }
        switch source {
        case .file(let file):
            fd = open(file, O_RDONLY | O_CLOEXEC)
            var st = stat()
            if fd < 0 || fstat(fd, &st) != 0 { throw error(.localFile(errno), "cannot read \(file)") }
            uploadSize = Int64(st.st_size)
        case .memory(let bytes):
            uploadSize = Int64(bytes.count)
        case .none: break
        }
        guard let easy = curl_easy_init() else { throw error(.curl(Int32(CURLE_OUT_OF_MEMORY.rawValue)), "curl_easy_init failed") }
        self.easy = easy
        configure(easy, configuration)
        return easy
    }

    private func configure(_ h: UnsafeMutableRawPointer, _ c: HTTPClient.Configuration) {
        // Return codes are not checked: every option here exists in the curl this links against
        // (7.85 or later for the *_STR ones), and a wrong value shows up as a failed transfer.
        _ = flow_curl_setopt_string(h, CURLOPT_URL, url)
        _ = flow_curl_setopt_pointer(h, CURLOPT_ERRORBUFFER, errorBuffer)
        _ = flow_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1)  // no SIGALRM in a threaded program
        _ = flow_curl_setopt_string(h, CURLOPT_PROTOCOLS_STR, "http,https")
        // Redirects are followed by the batch, which decides whether credentials go along: curl
        // would resend a custom Authorization header to whatever host it is sent to.
        _ = flow_curl_setopt_long(h, CURLOPT_FOLLOWLOCATION, 0)
        _ = flow_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, max(c.connectTimeout.milliseconds, 1))
        _ = flow_curl_setopt_long(h, CURLOPT_LOW_SPEED_LIMIT, 1)
        _ = flow_curl_setopt_long(h, CURLOPT_LOW_SPEED_TIME, max((c.stallTimeout.milliseconds + 999) / 1000, 1))
        if let total = c.totalTimeout { _ = flow_curl_setopt_long(h, CURLOPT_TIMEOUT_MS, max(total.milliseconds, 1)) }
        _ = flow_curl_setopt_long(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS)
        // Wait for a connection that can multiplex rather than open another one.
        _ = flow_curl_setopt_long(h, CURLOPT_PIPEWAIT, 1)
        _ = flow_curl_setopt_string(h, CURLOPT_USERAGENT, c.userAgent)
        if let ca = c.caBundlePath { _ = flow_curl_setopt_string(h, CURLOPT_CAINFO, ca) }

        if withCredentials {
            switch c.credentials {
            case .bearer(let token)?:
                headers = curl_slist_append(headers, "Authorization: Bearer \(token)")
            case .basic(let user, let password)?:
                _ = flow_curl_setopt_long(h, CURLOPT_HTTPAUTH, flow_CURLAUTH_BASIC)
                _ = flow_curl_setopt_string(h, CURLOPT_USERNAME, user)
                _ = flow_curl_setopt_string(h, CURLOPT_PASSWORD, password)
            case nil:
                if c.useNetrc { _ = flow_curl_setopt_long(h, CURLOPT_NETRC, Int(CURL_NETRC_OPTIONAL.rawValue)) }
            }
        }
        if let headers { _ = flow_curl_setopt_slist(h, CURLOPT_HTTPHEADER, headers) }

        let me = Unmanaged.passUnretained(self).toOpaque()
        // Every body goes through `receive`, so curl never writes one to stdout.
        _ = flow_curl_setopt_pointer(h, CURLOPT_WRITEDATA, me)
        _ = flow_curl_setopt_data_callback(h, CURLOPT_WRITEFUNCTION) { buffer, size, count, me in
            guard let me else { return 0 }
            return Unmanaged<Transfer>.fromOpaque(me).takeUnretainedValue().receive(buffer, size * count)
        }
        // Headers count as activity for the stall check.
        _ = flow_curl_setopt_pointer(h, CURLOPT_HEADERDATA, me)
        _ = flow_curl_setopt_data_callback(h, CURLOPT_HEADERFUNCTION) { _, size, count, me in
            guard let me else { return 0 }
            Unmanaged<Transfer>.fromOpaque(me).takeUnretainedValue().lastActivity = .now
            return size * count
        }
        switch method {
        case .head:
            _ = flow_curl_setopt_long(h, CURLOPT_NOBODY, 1)
        case .get:
            _ = flow_curl_setopt_long(h, CURLOPT_HTTPGET, 1)
        case .put:
            _ = flow_curl_setopt_long(h, CURLOPT_UPLOAD, 1)
            _ = flow_curl_setopt_off(h, CURLOPT_INFILESIZE_LARGE, curl_off_t(uploadSize ?? 0))
            _ = flow_curl_setopt_pointer(h, CURLOPT_READDATA, me)
            _ = flow_curl_setopt_data_callback(h, CURLOPT_READFUNCTION) { buffer, size, count, me in
                guard let me else { return flow_CURL_READFUNC_ABORT }
                return Unmanaged<Transfer>.fromOpaque(me).takeUnretainedValue().send(buffer, size * count)
            }
            // curl rewinds the body when it must send it again on the same attempt.
            _ = flow_curl_setopt_pointer(h, CURLOPT_SEEKDATA, me)
            _ = flow_curl_setopt_seek_callback(h, CURLOPT_SEEKFUNCTION) { me, offset, origin in
                guard let me, origin == SEEK_SET else { return flow_CURL_SEEKFUNC_FAIL }
                return Unmanaged<Transfer>.fromOpaque(me).takeUnretainedValue().rewind(to: Int64(offset))
            }
        }
    }

    private var responseCode: Int {
        var code = 0
        if let easy { _ = flow_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code) }
        return code
    }

    /// A piece of a response body. Only a 2xx body is kept: an error page or a redirect's body
    /// must not end up in the caller's file.
    private func receive(_ buffer: UnsafeMutablePointer<CChar>?, _ count: Int) -> Int {
        lastActivity = .now
        guard (200..<300).contains(responseCode), count > 0 else { return count }
        guard let buffer else { return 0 }
        switch sink {
        case .discard:
            break
        case .memory:
            guard data.count + count <= maxDataSize else { tooLarge = true; return 0 }
            data.append(UnsafeRawPointer(buffer).assumingMemoryBound(to: UInt8.self), count: count)
        case .file:
            var done = 0
            while done < count {
                let n = write(fd, buffer + done, count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { localErrno = n < 0 ? errno : EIO; return 0 }
                done += n
            }
            observe?(UnsafeRawBufferPointer(start: buffer, count: count))
        }
        received += Int64(count)
        return count
    }

    /// Fills curl's buffer with the next piece of the body to upload.
    private func send(_ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int {
        lastActivity = .now
        guard let buffer else { return flow_CURL_READFUNC_ABORT }
        switch source {
        case .none:
            return 0
        case .file:
            while true {
                let n = read(fd, buffer, capacity)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { localErrno = errno; return flow_CURL_READFUNC_ABORT }
                sent += Int64(n)
                return n
            }
        case .memory(let bytes):
            let n = min(capacity, bytes.count - uploadOffset)
            guard n > 0 else { return 0 }
            let start = bytes.startIndex + uploadOffset
            bytes.copyBytes(to: UnsafeMutableRawPointer(buffer).assumingMemoryBound(to: UInt8.self), from: start..<(start + n))
            uploadOffset += n
            sent += Int64(n)
            return n
        }
    }

    private func rewind(to offset: Int64) -> Int32 {
        switch source {
        case .file:
            guard lseek(fd, off_t(offset), SEEK_SET) >= 0 else { return flow_CURL_SEEKFUNC_FAIL }
        case .memory(let bytes):
            guard offset >= 0, offset <= bytes.count else { return flow_CURL_SEEKFUNC_FAIL }
            uploadOffset = Int(offset)
        case .none:
            break
        }
        sent = offset
        return flow_CURL_SEEKFUNC_OK
    }

    /// Reads what curl knows of the attempt that just ended with `code`, then frees the handle.
    func endAttempt(_ code: CURLcode, _ configuration: HTTPClient.Configuration) -> Ending {
        defer { endAttempt() }
        guard let h = easy else { return .failed(error(.curl(Int32(code.rawValue)), "no transfer")) }
        let status = responseCode
        let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
        if code != CURLE_OK { return .failed(classify(code, h, status: status, detail: detail, configuration)) }

        switch status {
        case 200..<300:
            switch method {
            case .head:
                var length: curl_off_t = -1
                _ = flow_curl_getinfo_off(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length)
                return .done(.found(size: length >= 0 ? Int64(length) : nil))
            case .get:
                // curl checks Content-Length itself (CURLE_PARTIAL_FILE); this also catches a
                // body that ended early without one.
                var length: curl_off_t = -1
                _ = flow_curl_getinfo_off(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length)
                if length >= 0 && Int64(length) != received {
                    return .failed(error(.truncatedBody, "\(received) of \(length) bytes"))
                }
                return .done(.found(size: received))
            case .put:
                return .done(.found(size: sent))
            }
        case 404 where method != .put:
            return .done(.notFound)
        case 301, 302, 303, 307, 308:
            var location: UnsafeMutablePointer<CChar>?
            _ = flow_curl_getinfo_string(h, CURLINFO_REDIRECT_URL, &location)
            guard let location else { return .failed(error(.redirect, "HTTP \(status) without a Location")) }
            // 301-303 may turn a PUT into a GET; only 307 and 308 promise to keep the method.
            if method == .put && status != 307 && status != 308 {
                return .failed(error(.redirect, "HTTP \(status) for a PUT"))
            }
            return .redirect(String(cString: location))
        default:
            return .failed(error(.status(status)))
        }
    }

    private func classify(_ code: CURLcode, _ h: UnsafeMutableRawPointer, status: Int, detail: String,
                          _ configuration: HTTPClient.Configuration) -> HTTPError {
        switch code {
        case CURLE_COULDNT_CONNECT:
            var osErrno = 0
            _ = flow_curl_getinfo_long(h, CURLINFO_OS_ERRNO, &osErrno)
            return error(osErrno == Int(ECONNREFUSED) ? .connectionRefused : .connectionFailed, detail)
        case CURLE_COULDNT_RESOLVE_HOST:
            return error(.cannotResolveHost, detail)
        case CURLE_OPERATION_TIMEDOUT:
            // Connected once the request went out (a reused connection has no connect time).
            var requestSize = 0
            var connectTime: curl_off_t = 0
            var totalTime: curl_off_t = 0
            _ = flow_curl_getinfo_long(h, CURLINFO_REQUEST_SIZE, &requestSize)
            _ = flow_curl_getinfo_off(h, CURLINFO_CONNECT_TIME_T, &connectTime)
            _ = flow_curl_getinfo_off(h, CURLINFO_TOTAL_TIME_T, &totalTime)
            if requestSize == 0 && connectTime == 0 { return error(.connectTimeout, detail) }
            if let total = configuration.totalTimeout, Int(totalTime / 1000) >= total.milliseconds - 50 {
                return error(.totalTimeout, detail)
            }
            return error(.stalled, detail)
        case CURLE_PARTIAL_FILE:
            return error(.truncatedBody, detail)
        case CURLE_RECV_ERROR, CURLE_HTTP2_STREAM, CURLE_HTTP2, CURLE_GOT_NOTHING, CURLE_SEND_ERROR:
            // A connection that broke in the middle of a 2xx body cut it short.
            if method != .put && (200..<300).contains(status) && received > 0 {
                return error(.truncatedBody, detail)
            }
            return error(.connectionFailed, detail)
        case CURLE_WRITE_ERROR, CURLE_READ_ERROR, CURLE_ABORTED_BY_CALLBACK:
            if tooLarge { return error(.bodyTooLarge, "more than \(maxDataSize) bytes") }
            if localErrno != 0 { return error(.localFile(localErrno), detail) }
            return error(.curl(Int32(code.rawValue)), detail)
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
             CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            return error(.tls, detail)
        default:
            return error(.curl(Int32(code.rawValue)), detail)
        }
    }

    /// Whether nothing moved for `limit` since the request went out. curl's own low-speed check
    /// averages over several seconds, so a stall right after a burst would be seen late.
    func hasStalled(now: ContinuousClock.Instant, limit: Duration) -> Bool {
        guard let easy else { return false }
        guard let last = lastActivity else {
            var requestSize = 0
            _ = flow_curl_getinfo_long(easy, CURLINFO_REQUEST_SIZE, &requestSize)
            if requestSize > 0 { lastActivity = now }
            return false
        }
        return now - last > limit
    }

    /// Frees the easy handle and the header list and closes the file; harmless twice.
    /// The caller has taken the handle out of the multi handle first.
    func endAttempt() {
        if let easy { curl_easy_cleanup(easy) }
        easy = nil
        if let headers { curl_slist_free_all(headers) }
        headers = nil
        if fd >= 0 { close(fd) }
        fd = -1
    }

    /// Removes the downloaded file after a failure or a 404: it holds nothing the caller wants.
    func discardDestination() {
        if wroteDestination, case .file(let destination) = sink { unlink(destination) }
    }
}
