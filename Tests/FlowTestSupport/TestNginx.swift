import Foundation
import Testing

/// A real nginx serving a flow remote cache (tests/nginx/start.sh): one per test process, started
/// the first time a test asks, stopped when the process exits.
///
/// A test that needs it calls `require()`: without nginx the test is skipped (visibly), and under
/// `make test` (FLOW_REQUIRE_ALL=1) it fails, see `Requirement`.
public enum TestNginx {
    /// The running server; see tests/nginx/nginx.conf.in for its locations.
    public struct Server: Sendable {
        /// `http://127.0.0.1:PORT`: `/` takes GET, HEAD and PUT from anyone; `/secure/` wants
        /// `Authorization: Bearer <token>`, `/basic/` the user and password; `/elsewhere/X`
        /// redirects (307) to `otherURL/X`, `/moved/X` to `/secure/X` on the same origin.
        public var url: String
        /// A second origin (another port) over the same files, which logs the Authorization
        /// header of each request to `otherLog`.
        public var otherURL: String
        /// `https://127.0.0.1:PORT`, HTTP/2, wants the bearer token; logs each request's protocol
        /// and connection number to `tlsLog`. Its certificate is self-signed: trust `caBundle`.
        public var tlsURL: String
        public var caBundle: String
        public var token: String
        public var user: String
        public var password: String
        /// Where nginx keeps everything; the files it serves are under `root`.
        public var directory: String
        public var root: String { directory + "/root" }
        public var otherLog: String { directory + "/logs/other.log" }
        public var tlsLog: String { directory + "/logs/tls.log" }
        public var port: UInt16 { UInt16(url.split(separator: ":").last.flatMap { Int($0) } ?? 0) }
    }

    /// The server, or the test is skipped (failed under `make test`).
    public static func require(sourceLocation: SourceLocation = #_sourceLocation) throws -> Server {
        switch started {
        case .success(let server): return server
        case .failure(let why): try Requirement.unmet("nginx: \(why.reason)", sourceLocation: sourceLocation)
        }
    }

    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    private static let started: Result<Server, Requirement.Unavailable> = {
        guard ["/usr/sbin/nginx", "/usr/bin/nginx"].contains(where: FileManager.default.isExecutableFile(atPath:)) else {
            return .failure(.init(reason: "nginx is not installed (apt-get install nginx)"))
        }
        let dir = NSTemporaryDirectory() + "flow-nginx-\(getpid())"
        let out = dir + ".out"
        guard spawnShell("'\(repository)/tests/nginx/start.sh' '\(dir)' > '\(out)' 2>&1") == 0 else {
            let log = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            return .failure(.init(reason: "tests/nginx/start.sh \(dir) failed: \(log)"))
        }
        var fields: [String: String] = [:]
        for line in ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n") {
            if let eq = line.firstIndex(of: "=") { fields[String(line[..<eq])] = String(line[line.index(after: eq)...]) }
        }
        startedDirectory = strdup(dir)
        atexit {
            guard let d = startedDirectory else { return }
            let dir = String(cString: d)
            _ = spawnShell("'\(TestNginx.repository)/tests/nginx/stop.sh' '\(dir)' > /dev/null 2>&1")
            if ProcessInfo.processInfo.environment["FLOW_KEEP_TEST_DIRS"] == nil {
                try? FileManager.default.removeItem(atPath: dir)
            }
            try? FileManager.default.removeItem(atPath: dir + ".out")
        }
        guard let url = fields["url"], let other = fields["other_url"], let tls = fields["tls_url"], let ca = fields["ca"] else {
            return .failure(.init(reason: "tests/nginx/start.sh printed no URL"))
        }
        return .success(Server(url: url, otherURL: other, tlsURL: tls, caBundle: ca, token: fields["token"] ?? "", user: fields["user"] ?? "",
                               password: fields["password"] ?? "", directory: dir))
    }()

    /// Runs `sh -c command` with no signal blocked or ignored, so that the nginx it starts answers
    /// stop.sh's SIGQUIT (a test runner's threads may block signals, and children inherit that).
    static func spawnShell(_ command: String) -> Int32 {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let words: [String] = ["/bin/sh", "-c", command]
        var argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/bin/sh", nil, &attributes, &argv, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status
    }
}

/// The directory stop.sh is run on at exit, as a C string: an atexit handler captures nothing.
nonisolated(unsafe) private var startedDirectory: UnsafeMutablePointer<CChar>?
