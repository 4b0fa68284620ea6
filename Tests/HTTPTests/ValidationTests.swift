import Foundation
import HTTP
import Testing

/// What the client checks before anything goes on the wire: paths, credentials, retry delays.
@Suite struct ValidationTests {
    @Test(arguments: [
        ("0123456789abcdef", 16, true),
        ("0123456789ABCDEF", 16, false),
        ("0123456789abcdeg", 16, false),
        ("0123456789abcde", 16, false),
        ("../../etc/passwd", 16, false),
        ("", 0, true),
    ])
    func hexSegments(segment: String, length: Int, ok: Bool) {
        #expect(RemotePath.isLowercaseHex(segment, length: length) == ok)
    }

    @Test func casAndACPathsAreCheckedBeforeUse() throws {
        let digest = String(repeating: "a1", count: 32)
        #expect(try RemotePath.cas(digest, length: 64) == "cas/" + digest)
        #expect(try RemotePath.ac(digest, length: 64) == "ac/" + digest)
        #expect(throws: HTTPError.self) { try RemotePath.cas("../" + digest.dropFirst(3), length: 64) }
        #expect(throws: HTTPError.self) { try RemotePath.ac(digest.uppercased(), length: 64) }
    }

    @Test(arguments: ["cas/ab", "secure/cas/ab", "a.b_c~d-e"])
    func acceptablePaths(path: String) { #expect(RemotePath.isAcceptable(path)) }

    @Test(arguments: ["", "/cas/ab", "cas//ab", "cas/../x", "./x", "cas/a?b", "cas/a b", "cas/a%2f", "cas/é"])
    func refusedPaths(path: String) { #expect(!RemotePath.isAcceptable(path)) }

    @Test func aRefusedPathNeverReachesTheNetwork() throws {
        // Port 1 on loopback: if the request went out, it would be refused, not invalid.
        let client = try HTTPClient(configuration: .init(baseURL: "http://127.0.0.1:1"))
        #expect(client.head(["../etc/passwd"])[0].failure?.kind == .invalidURL)
    }

    @Test func credentialsComeFromTheEnvironment() throws {
        #expect(try Credentials.fromEnvironment([:]) == nil)
        guard case .bearer(let token)? = try Credentials.fromEnvironment(["FLOW_REMOTE_TOKEN": "abc"]) else {
            Issue.record("no token")
            return
        }
        #expect(token == "abc")
        guard case .basic(let user, let password)? = try Credentials.fromEnvironment(
            ["FLOW_REMOTE_USER": "u", "FLOW_REMOTE_PASSWORD": "p"]) else {
            Issue.record("no user")
            return
        }
        #expect(user == "u" && password == "p")
        for bad in [["FLOW_REMOTE_USER": "u"], ["FLOW_REMOTE_PASSWORD": "p"],
                    ["FLOW_REMOTE_TOKEN": "t", "FLOW_REMOTE_USER": "u", "FLOW_REMOTE_PASSWORD": "p"],
                    ["FLOW_REMOTE_TOKEN": "t\r\nX-Injected: 1"], ["FLOW_REMOTE_USER": "a:b", "FLOW_REMOTE_PASSWORD": "p"]] {
            #expect(throws: HTTPError.self) { try Credentials.fromEnvironment(bad) }
        }
    }

    @Test func credentialsAreNeverPrinted() {
        for c: Credentials in [.bearer(token: "s3cret"), .basic(user: "me", password: "s3cret")] {
            var dumped = ""
            dump(c, to: &dumped)
            for text in ["\(c)", String(reflecting: c), dumped] { #expect(!text.contains("s3cret"), "\(text)") }
        }
    }

    @Test func backoffDoublesUpToItsCap() {
        let policy = HTTPClient.RetryPolicy(retries: 6, initialBackoff: .milliseconds(100), maxBackoff: .seconds(1))
        #expect((1...6).map { policy.nominalDelay(beforeRetry: $0) }
                == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
    }

    @Test(arguments: [(500, true), (503, true), (429, true), (408, true), (400, false), (401, false), (403, false), (413, false)])
    func transientStatuses(code: Int, transient: Bool) {
        #expect(HTTPError(.status(code)).isTransient == transient)
    }
}
