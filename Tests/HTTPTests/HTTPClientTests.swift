import Foundation
import FlowTestSupport
import HTTP
import Testing

/// Round trips against a real nginx (tests/nginx): big and many files, 404, the token- and
/// password-protected locations, and where credentials go on a redirect.
@Suite struct HTTPClientTests {
    @Test func aBigFileStreamsUpAndDownIntact() throws {
        let nginx = try TestNginx.require()
        let dir = TemporaryDirectory("flow-http")
        let size = 50 << 20
        try writePattern(dir.path + "/big", count: size, seed: 7)
        let client = try makeClient(nginx.url)
        let path = try RemotePath.cas(freshDigest(), length: 64)

        var seen: [TransferProgress] = []
        let put = client.put([Upload(path: path, source: dir.path + "/big")]) { seen.append($0) }
        #expect(try put[0].get() == Int64(size))
        #expect(seen.last == TransferProgress(bytesDone: Int64(size), bytesTotal: Int64(size), transfersDone: 1, transfersTotal: 1))
        #expect(try FileManager.default.attributesOfItem(atPath: nginx.root + "/" + path)[.size] as? Int == size)

        #expect(try client.head([path])[0].get() == .found(size: Int64(size)))
        seen = []
        let got = client.get([Download(path: path, destination: dir.path + "/big.down")], progress: { seen.append($0) })
        #expect(try got[0].get() == .found(size: Int64(size)))
        #expect(try Data(contentsOf: dir.url("big.down")) == Data(contentsOf: dir.url("big")))
        #expect(seen.last?.bytesDone == Int64(size) && seen.last?.transfersDone == 1)
    }

    @Test func manySmallFilesGoUpAndDownTogether() throws {
        let nginx = try TestNginx.require()
        let dir = TemporaryDirectory("flow-http")
        let client = try makeClient(nginx.url) { $0.maxParallelTransfers = 8 }
        let paths = try (0..<200).map { _ in try RemotePath.cas(freshDigest(), length: 64) }
        for (i, _) in paths.enumerated() { try writePattern(dir.path + "/\(i)", count: 100 + i * 37, seed: UInt64(i + 1)) }

        let put = client.put(paths.enumerated().map { Upload(path: $1, source: dir.path + "/\($0)") })
        #expect(put.allSatisfy { (try? $0.get()) != nil }, "\(put.compactMap(\.failure))")
        let heads = client.head(paths)
        #expect(heads.enumerated().allSatisfy { i, r in (try? r.get()) == .found(size: Int64(100 + i * 37)) })
        let got = client.get(paths.enumerated().map { Download(path: $1, destination: dir.path + "/\($0).down") })
        #expect(got.allSatisfy { (try? $0.get()) != nil }, "\(got.compactMap(\.failure))")
        for i in paths.indices {
            #expect(try Data(contentsOf: dir.url("\(i).down")) == Data(contentsOf: dir.url("\(i)")))
        }
        // Small bodies to and from memory.
        let manifests = paths.prefix(20).map { "ac/" + $0.dropFirst(4) }
        let putData = client.putData(manifests.map { ($0, Data("{\"m\":\"\($0)\"}".utf8)) })
        #expect(putData.allSatisfy { (try? $0.get()) != nil })
        let data = client.getData(manifests)
        for (m, r) in zip(manifests, data) { #expect(try r.get() == Data("{\"m\":\"\(m)\"}".utf8)) }
    }

    @Test func aMissingPathIsNotFoundNotAnError() throws {
        let nginx = try TestNginx.require()
        let dir = TemporaryDirectory("flow-http")
        let client = try makeClient(nginx.url)
        let path = try RemotePath.cas(freshDigest(), length: 64)
        #expect(try client.head([path])[0].get() == .notFound)
        #expect(try client.get([Download(path: path, destination: dir.path + "/x")])[0].get() == .notFound)
        #expect(!dir.exists("x"), "the temporary file of a 404 is removed")
        #expect(try client.getData(path) == nil)
        #expect(!client.isDown)
    }

    @Test func theTokenProtectedLocationWantsTheToken() throws {
        let nginx = try TestNginx.require()
        let path = "secure/" + (try RemotePath.cas(freshDigest(), length: 64))
        let withToken = try makeClient(nginx.url) { $0.credentials = .bearer(token: nginx.token) }
        try withToken.putData(path, Data("secret".utf8))
        #expect(try withToken.getData(path) == Data("secret".utf8))

        let without = try makeClient(nginx.url)
        let e = without.getData([path])[0].failure
        #expect(e?.kind == .status(401))
        #expect(e?.attempts == 1, "a 4xx is not retried")
        let wrong = try makeClient(nginx.url) { $0.credentials = .bearer(token: "not-" + nginx.token) }
        #expect(wrong.head([path])[0].failure?.kind == .status(401))
        #expect(!wrong.isDown, "a 4xx does not count against the remote")
    }

    @Test func basicAuthWorksWithUserAndPassword() throws {
        let nginx = try TestNginx.require()
        let path = "basic/" + (try RemotePath.cas(freshDigest(), length: 64))
        let client = try makeClient(nginx.url) { $0.credentials = .basic(user: nginx.user, password: nginx.password) }
        try client.putData(path, Data("b".utf8))
        #expect(try client.getData(path) == Data("b".utf8))
        let wrong = try makeClient(nginx.url) { $0.credentials = .basic(user: nginx.user, password: "wrong") }
        #expect(wrong.getData([path])[0].failure?.kind == .status(401))
    }

    @Test func aRedirectToAnotherOriginIsFollowedWithoutCredentials() throws {
        let nginx = try TestNginx.require()
        let digest = freshDigest()
        let client = try makeClient(nginx.url) { $0.credentials = .bearer(token: nginx.token) }
        try client.putData("cas/" + digest, Data("object".utf8))

        // nginx sends /elsewhere/cas/D to the other port, which logs the Authorization it gets.
        #expect(try client.getData("elsewhere/cas/" + digest) == Data("object".utf8))
        // nginx logs a request after answering it: wait for the line.
        var log = ""
        var line: Substring?
        for _ in 0..<100 where line == nil {
            log = (try? String(contentsOfFile: nginx.otherLog, encoding: .utf8)) ?? ""
            line = log.split(separator: "\n").first { $0.contains("/cas/" + digest) }
            if line == nil { usleep(20_000) }
        }
        #expect(line == "GET /cas/\(digest) authorization=[-]", "\(log)")
        #expect(!log.contains(nginx.token))
    }

    @Test func aRedirectWithinTheOriginKeepsCredentials() throws {
        let nginx = try TestNginx.require()
        let digest = freshDigest()
        let client = try makeClient(nginx.url) { $0.credentials = .bearer(token: nginx.token) }
        try client.putData("secure/cas/" + digest, Data("kept".utf8))
        // /moved/X is a 307 to /secure/X on the same host and port.
        #expect(try client.getData("moved/cas/" + digest) == Data("kept".utf8))
        #expect(try makeClient(nginx.url).getData(["moved/cas/" + digest])[0].failure?.kind == .status(401))
    }

    @Test func credentialsOverPlainHTTPAreRefusedUnlessAllowed() throws {
        func configuration(_ url: String, _ credentials: Credentials?, allow: Bool = false, netrc: Bool = false) -> HTTPClient.Configuration {
            var c = HTTPClient.Configuration(baseURL: url)
            c.credentials = credentials
            c.allowInsecureHTTP = allow
            c.useNetrc = netrc
            return c
        }
        for url in ["http://127.0.0.1:1", "http://cache.example:8080/flow"] {
            for credentials: Credentials? in [.bearer(token: "t0ken"), .basic(user: "u", password: "p4ss")] {
                let e = #expect(throws: HTTPError.self) { try HTTPClient(configuration: configuration(url, credentials)) }
                #expect(e?.kind == .insecureCredentials)
                #expect(e.map { !"\($0)".contains("t0ken") && !"\($0)".contains("p4ss") } == true)
                _ = try HTTPClient(configuration: configuration(url, credentials, allow: true))
            }
            #expect(throws: HTTPError.self) { try HTTPClient(configuration: configuration(url, nil, netrc: true)) }
            _ = try HTTPClient(configuration: configuration(url, nil))
        }
        _ = try HTTPClient(configuration: configuration("https://cache.example", .bearer(token: "t")))
        // A password in the URL is refused, and not repeated in the error.
        let e = #expect(throws: HTTPError.self) { try HTTPClient(configuration: configuration("https://u:hunter2@cache.example", nil)) }
        #expect(e?.kind == .insecureCredentials)
        #expect(e.map { !"\($0)".contains("hunter2") } == true)
        #expect(throws: HTTPError.self) { try HTTPClient(configuration: configuration("ftp://cache.example", nil)) }
    }
}
