import Foundation
import FlowTestSupport
import HTTP
import Testing

/// The cache over TLS and HTTP/2 (the test nginx's self-signed server): credentials without
/// allowing insecure HTTP, transfers multiplexed on one connection, and an untrusted certificate.
@Suite struct TLSTests {
    @Test func transfersShareOneHTTP2Connection() throws {
        let nginx = try TestNginx.require()
        var c = HTTPClient.Configuration(baseURL: nginx.tlsURL)
        c.credentials = .bearer(token: nginx.token)
        c.caBundlePath = nginx.caBundle
        c.maxParallelTransfers = 8
        let client = try HTTPClient(configuration: c)
        let paths = try (0..<40).map { _ in try RemotePath.cas(freshDigest(), length: 64) }
        let put = client.putData(paths.map { ($0, Data($0.utf8)) })
        #expect(put.allSatisfy { (try? $0.get()) != nil }, "\(put.compactMap(\.failure))")
        let got = client.getData(paths)
        for (p, r) in zip(paths, got) { #expect(try r.get() == Data(p.utf8)) }

        // nginx logs a request after answering it: wait for all 80 lines.
        var lines: [Substring] = []
        for _ in 0..<100 {
            let log = (try? String(contentsOfFile: nginx.tlsLog, encoding: .utf8)) ?? ""
            lines = log.split(separator: "\n").filter { line in paths.contains { line.contains($0) } }
            if lines.count >= 80 { break }
            usleep(20_000)
        }
        #expect(lines.count == 80)
        #expect(lines.allSatisfy { $0.contains(" HTTP/2.0 ") }, "\(lines.prefix(3))")
        let connections = Set(lines.compactMap { $0.split(separator: "=").last })
        #expect(connections.count == 1, "\(connections)")
    }

    @Test func anUntrustedCertificateIsATLSError() throws {
        let nginx = try TestNginx.require()
        var c = HTTPClient.Configuration(baseURL: nginx.tlsURL)
        c.credentials = .bearer(token: nginx.token)
        c.retry.retries = 0
        let e = try HTTPClient(configuration: c).head(["cas/00"])[0].failure
        #expect(e?.kind == .tls, "\(String(describing: e))")
        #expect(e?.isTransient == false)
    }
}
