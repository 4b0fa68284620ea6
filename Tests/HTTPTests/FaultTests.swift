import Foundation
import FlowTestSupport
import HTTP
import Testing

/// Each fault of the proxy in front of nginx gives its typed error; transient ones are retried
/// with backoff; the circuit breaker opens after failures in a row and stays open.
@Suite struct FaultTests {
    /// nginx, a proxy in front of it, and an object of `size` bytes stored under `cas/`.
    func setUp(size: Int = 1 << 20) throws -> (TestNginx.Server, FaultProxy, String, Data) {
        let nginx = try TestNginx.require()
        let proxy = try FaultProxy(upstreamPort: nginx.port)
        let path = try RemotePath.cas(freshDigest(), length: 64)
        let dir = TemporaryDirectory("flow-http")
        try writePattern(dir.path + "/object", count: size, seed: 11)
        let data = try Data(contentsOf: dir.url("object"))
        try makeClient(nginx.url).putData(path, data)
        return (nginx, proxy, path, data)
    }

    @Test func a500IsRetriedAndThenSucceeds() throws {
        let (_, proxy, path, data) = try setUp()
        proxy.enqueue(.status500, .status500)
        #expect(try makeClient(proxy.url).getData(path) == data)
        #expect(proxy.requests == 3)

        proxy.enqueue(.status500, .status500)
        let e = try makeClient(proxy.url) { $0.retry.retries = 1 }.getData([path])[0].failure
        #expect(e?.kind == .status(500))
        #expect(e?.attempts == 2)
    }

    @Test func aConnectionDroppedMidBodyIsATruncatedBody() throws {
        let (_, proxy, path, data) = try setUp()
        let dir = TemporaryDirectory("flow-http")
        proxy.mode = .dropMidBody
        let noRetry = try makeClient(proxy.url) { $0.retry.retries = 0 }
        let r = noRetry.get([Download(path: path, destination: dir.path + "/d")])
        #expect(r[0].failure?.kind == .truncatedBody)
        #expect(!dir.exists("d"), "a failed download leaves no file")

        proxy.mode = .none
        proxy.enqueue(.dropMidBody)
        let again = try makeClient(proxy.url).get([Download(path: path, destination: dir.path + "/d")])
        #expect(try again[0].get() == .found(size: Int64(data.count)))
        #expect(try Data(contentsOf: dir.url("d")) == data)
    }

    @Test func aStalledTransferTimesOut() throws {
        let (_, proxy, path, _) = try setUp()
        proxy.mode = .stall(seconds: 5)
        let client = try makeClient(proxy.url) {
            $0.retry.retries = 0
            $0.stallTimeout = .seconds(1)
        }
        let start = ContinuousClock.now
        let e = client.getData([path])[0].failure
        #expect(e?.kind == .stalled, "\(String(describing: e))")
        #expect(ContinuousClock.now - start < .seconds(4))
    }

    @Test func aTransferLongerThanTheTotalTimeoutFails() throws {
        let (_, proxy, path, _) = try setUp()
        proxy.mode = .stall(seconds: 5)
        let client = try makeClient(proxy.url) {
            $0.retry.retries = 0
            $0.totalTimeout = .seconds(1)
            $0.stallTimeout = .seconds(10)
        }
        #expect(client.getData([path])[0].failure?.kind == .totalTimeout)
    }

    @Test func aFlippedByteIsCaughtByVerifyAndFetchedAgain() throws {
        let (_, proxy, path, data) = try setUp()
        let dir = TemporaryDirectory("flow-http")
        let download = Download(path: path, destination: dir.path + "/d")
        let intact: (Download) -> Bool = { (try? Data(contentsOf: URL(fileURLWithPath: $0.destination))) == data }

        proxy.enqueue(.flipByte)
        #expect(try makeClient(proxy.url).get([download], verify: intact)[0].get() == .found(size: Int64(data.count)))
        #expect(proxy.requests == 2)
        #expect(try Data(contentsOf: dir.url("d")) == data)

        proxy.mode = .flipByte
        let e = try makeClient(proxy.url) { $0.retry.retries = 1 }.get([download], verify: intact)[0].failure
        #expect(e?.kind == .rejectedBody)
        #expect(e?.attempts == 2)
        #expect(!dir.exists("d"))
    }

    @Test func aRefusedConnectionIsRetriedWithBackoff() throws {
        let (_, proxy, path, _) = try setUp()
        proxy.refuseConnections()
        let client = try makeClient(proxy.url) {
            $0.retry = .init(retries: 3, initialBackoff: .milliseconds(100), maxBackoff: .seconds(1), jitter: false)
        }
        let start = ContinuousClock.now
        let e = client.head([path])[0].failure
        let elapsed = ContinuousClock.now - start
        #expect(e?.kind == .connectionRefused)
        #expect(e?.attempts == 4)
        // 100 + 200 + 400 ms of backoff.
        #expect(elapsed >= .milliseconds(700) && elapsed < .seconds(5), "\(elapsed)")
        #expect(e.map { "\($0)".contains("HEAD \(proxy.url)/\(path): connection refused (after 4 attempts)") } == true,
                "\(String(describing: e))")
    }

    @Test func aConnectionClosedWithoutAnswerIsAConnectionFailure() throws {
        let (_, proxy, path, _) = try setUp()
        proxy.mode = .closeAtOnce
        let e = try makeClient(proxy.url) { $0.retry.retries = 0 }.head([path])[0].failure
        #expect(e?.kind == .connectionFailed)
        #expect(e?.isTransient == true)
    }

    @Test func theCircuitBreakerOpensAfterFailuresInARowAndStaysOpen() throws {
        let (_, proxy, path, _) = try setUp()
        proxy.refuseConnections()
        let client = try makeClient(proxy.url) {
            $0.retry.retries = 1
            $0.circuitBreakerThreshold = 3
            $0.maxParallelTransfers = 1
        }
        let results = client.head(Array(repeating: path, count: 10))
        #expect(results.prefix(3).allSatisfy { $0.failure?.kind == .connectionRefused })
        #expect(results.dropFirst(3).allSatisfy { $0.failure?.kind == .remoteDown })
        #expect(client.isDown)
        #expect(client.downReason?.kind == .connectionRefused)

        // Back up: the client does not look again, and fails at once.
        proxy.acceptConnections()
        let start = ContinuousClock.now
        #expect(client.head([path])[0].failure?.kind == .remoteDown)
        #expect(ContinuousClock.now - start < .milliseconds(100))
        #expect(proxy.requests == 0)
        // A fresh client finds it up.
        #expect(try makeClient(proxy.url).head([path])[0].get() != .notFound)
    }

    @Test func aSuccessResetsTheBreakersCount() throws {
        let (_, proxy, path, _) = try setUp()
        let client = try makeClient(proxy.url) {
            $0.retry.retries = 0
            $0.circuitBreakerThreshold = 2
            $0.maxParallelTransfers = 1
        }
        proxy.enqueue(.status500, .none, .status500, .none, .status500)
        let results = client.head(Array(repeating: path, count: 5))
        #expect(results.map { $0.failure?.kind } == [.status(500), nil, .status(500), nil, .status(500)])
        #expect(!client.isDown)
    }
}
