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

    static func spawnShell(_ command: String) -> Int32 { CleanShell.run(command) }
}

/// The directory stop.sh is run on at exit, as a C string: an atexit handler captures nothing.
nonisolated(unsafe) private var startedDirectory: UnsafeMutablePointer<CChar>?
