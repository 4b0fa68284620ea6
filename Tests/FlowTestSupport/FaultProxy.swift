import Foundation

/// A small HTTP/1.1 proxy on 127.0.0.1 in front of a local server (the test nginx), which spoils
/// requests on demand, for transport tests.
///
/// One request per connection: it answers `Connection: close`, reads the upstream's whole answer,
/// then passes it on or spoils it. Faults are taken from the queue (`enqueue`), one per request,
/// then `mode` applies.
public final class FaultProxy: @unchecked Sendable {
    // @unchecked Sendable: every mutable field is read and written under `state` (an NSCondition);
    // the listening socket is opened and closed only by the accepting thread.

    public enum Fault: Sendable, Equatable {
        /// Pass the request and the answer on untouched.
        case none
        /// Answer 500 without asking the upstream.
        case status500
        /// Answer the upstream's head and half its body, then close.
        case dropMidBody
        /// Answer the head and half the body, send nothing for `seconds`, then close.
        case stall(seconds: Double)
        /// Answer with the middle byte of the body inverted.
        case flipByte
        /// Read the request, then close without a word.
        case closeAtOnce
    }

    public let upstreamPort: UInt16
    public private(set) var port: UInt16 = 0
    public var url: String { "http://127.0.0.1:\(port)" }

    private let state = NSCondition()
    private var queue: [Fault] = []
    private var currentMode: Fault = .none
    private var requestCount = 0
    private var wantListening = true
    private var listening = false
    private var stopped = false

    /// Starts listening on a free port.
    public init(upstreamPort: UInt16) throws {
        self.upstreamPort = upstreamPort
        let fd = try Self.listen(port: 0)
        port = Self.localPort(fd)
        listening = true
        let thread = Thread { [self] in acceptLoop(fd) }
        thread.start()
    }

    deinit { stop() }

    /// Faults for the next requests, in order.
    public func enqueue(_ faults: Fault...) {
        state.lock()
        queue += faults
        state.unlock()
    }

    /// The fault for every request once the queue is empty.
    public var mode: Fault {
        get { state.lock(); defer { state.unlock() }; return currentMode }
        set { state.lock(); currentMode = newValue; state.unlock() }
    }

    /// Requests seen so far (refused connections are not requests).
    public var requests: Int {
        state.lock()
        defer { state.unlock() }
        return requestCount
    }

    /// Closes the listening socket: connections are refused until `acceptConnections`.
    public func refuseConnections() { setListening(false) }

    /// Listens again, on the same port.
    public func acceptConnections() { setListening(true) }

    public func stop() {
        state.lock()
        stopped = true
        state.broadcast()
        state.unlock()
    }

    private func setListening(_ on: Bool) {
        state.lock()
        defer { state.unlock() }
        wantListening = on
        while listening != on && !stopped { state.wait() }
    }

    private func acceptLoop(_ initial: Int32) {
        var fd = initial
        while true {
            state.lock()
            let stop = stopped, want = wantListening
            state.unlock()
            if stop { break }
            if !want && fd >= 0 { close(fd); fd = -1; acknowledge(false) }
            if want && fd < 0 {
                // SO_REUSEADDR lets the port be bound again at once.
                guard let again = try? Self.listen(port: port) else { usleep(20_000); continue }
                fd = again
                acknowledge(true)
            }
            guard fd >= 0 else { usleep(20_000); continue }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 50) > 0 else { continue }
            let client = accept(fd, nil, nil)
            if client >= 0 { Thread { [self] in serve(client) }.start() }
        }
        if fd >= 0 { close(fd) }
    }

    private func acknowledge(_ on: Bool) {
        state.lock()
        listening = on
        state.broadcast()
        state.unlock()
    }

    private func nextFault() -> Fault {
        state.lock()
        defer { state.unlock() }
        requestCount += 1
        return queue.isEmpty ? currentMode : queue.removeFirst()
    }

    private func serve(_ client: Int32) {
        defer { close(client) }
        guard var request = readHead(client) else { return }
        let head = String(decoding: request.head, as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let length = lines.lazy.compactMap { line -> Int? in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
            return Int(parts[1].trimmingCharacters(in: .whitespaces))
        }.first ?? 0
        if lines.contains(where: { $0.lowercased().hasPrefix("expect:") }) {
            // Answer the 100-continue here, so that the client sends its body at once.
            sendAll(client, Data("HTTP/1.1 100 Continue\r\n\r\n".utf8))
        }
        while request.rest.count < length {
            guard let more = receive(client) else { return }
            request.rest += more
        }
        let fault = nextFault()
        switch fault {
        case .status500:
            return sendAll(client, Data("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
        case .closeAtOnce:
            return
        case .none, .dropMidBody, .stall, .flipByte:
            break
        }
        // Upstream: the same request, on a connection of its own that it closes when done.
        lines.removeAll { line in
            let name = line.split(separator: ":").first.map { $0.lowercased() } ?? ""
            return ["connection", "expect", "keep-alive"].contains(name)
        }
        let upstreamRequest = Data((lines + ["Connection: close", "", ""]).joined(separator: "\r\n").utf8) + request.rest
        guard let answer = ask(upstreamRequest) else { return }
        let split = answer.range(of: Data("\r\n\r\n".utf8)).map { $0.upperBound } ?? answer.endIndex
        let answerHead = answer[..<split]
        var body = Data(answer[split...])
        switch fault {
        case .flipByte where !body.isEmpty:
            let i = body.startIndex + body.count / 2
            body[i] = ~body[i]
            sendAll(client, answerHead + body)
        case .dropMidBody:
            sendAll(client, answerHead + body.prefix(body.count / 2))
        case .stall(let seconds):
            sendAll(client, answerHead + body.prefix(body.count / 2))
            usleep(useconds_t(seconds * 1_000_000))
        default:
            sendAll(client, answer)
        }
    }

    /// The request head (up to the blank line) and what came after it.
    private func readHead(_ fd: Int32) -> (head: Data, rest: Data)? {
        var buffer = Data()
        while true {
            if let end = buffer.range(of: Data("\r\n\r\n".utf8)) {
                return (Data(buffer[..<end.lowerBound]), Data(buffer[end.upperBound...]))
            }
            guard let more = receive(fd) else { return nil }
            buffer += more
        }
    }

    private func receive(_ fd: Int32) -> Data? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n < 0 && errno == EINTR { continue }
            return n > 0 ? Data(chunk[..<n]) : nil
        }
    }

    private func sendAll(_ fd: Int32, _ data: Data) {
        data.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var done = 0
            while done < raw.count {
                // MSG_NOSIGNAL: a client that went away must not kill the test process with SIGPIPE.
                let n = send(fd, base + done, raw.count - done, Int32(MSG_NOSIGNAL))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                done += n
            }
        }
    }

    /// Sends `request` to the upstream and returns its whole answer.
    private func ask(_ request: Data) -> Data? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = Self.loopback(port: upstreamPort)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        sendAll(fd, request)
        var answer = Data()
        while let more = receive(fd) { answer += more }
        return answer
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return address
    }

    private static func listen(port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = loopback(port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, 64) == 0 else {
            let e = errno
            close(fd)
            throw POSIXError(.init(rawValue: e) ?? .EIO)
        }
        return fd
    }

    private static func localPort(_ fd: Int32) -> UInt16 {
        var address = sockaddr_in()
        var size = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &size) }
        }
        return UInt16(bigEndian: address.sin_port)
    }
}
