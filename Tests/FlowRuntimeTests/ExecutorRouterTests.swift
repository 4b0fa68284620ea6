import Foundation
import FlowCore
@testable import FlowRuntime
import Testing

/// `ExecutorRouter` with fake executors: every end comes back exactly once, whichever executor
/// has it, while another executor has work too.
@Suite struct ExecutorRouterTests {
    static func process(_ name: String, on kind: ExecutorKind) -> ProcessDescription {
        var p = ProcessDescription(step: name, argv: ["true"], environment: [:], workingDirectory: NSTemporaryDirectory(),
                                   resources: Resources(), gpus: [], logPath: "/dev/null", timeout: 0, attempt: 1)
        p.executor = kind
        return p
    }

    /// A local end while a cluster job runs: the router asked the local executor twice for one
    /// end (a lazy `compactMap(...).first` evaluates its closure again for the element), and with
    /// no second end the second answer was nil, which crashed flow.
    @Test func oneEndWhileAnotherExecutorIsBusyComesBackOnce() throws {
        #expect(try Self.ends(ofLocalSteps: ["a"]) == [1])
    }

    /// Two ends at once while another executor is busy: both come back, in order.
    @Test func twoEndsWhileAnotherExecutorIsBusyBothComeBack() throws {
        #expect(try Self.ends(ofLocalSteps: ["a", "b"]) == [1, 2])
    }

    /// The tokens a router hands out in five asks, when a cluster job that never ends runs beside
    /// local steps named `names` (tokens 1, 2, ...), which the fake local executor ends at once.
    static func ends(ofLocalSteps names: [String]) throws -> [Int] {
        let local = FakeExecutor()
        let cluster = FakeExecutor()
        cluster.hanging = ["job"]
        let router = ExecutorRouter([.local: { local }, .slurm: { cluster }])
        _ = try router.start(process("job", on: .slurm), token: 100)
        for (i, name) in names.enumerated() { _ = try router.start(process(name, on: .local), token: i + 1) }
        var got: [Int] = []
        for _ in 0..<5 { if let c = router.next(timeout: 0.01) { got.append(c.token) } }
        return got
    }
}
