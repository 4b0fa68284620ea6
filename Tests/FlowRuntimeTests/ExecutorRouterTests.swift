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
        let local = FakeExecutor()
        let cluster = FakeExecutor()
        cluster.hanging = ["job"]
        let router = ExecutorRouter([.local: { local }, .slurm: { cluster }])
        _ = try router.start(Self.process("job", on: .slurm), token: 100)
        _ = try router.start(Self.process("a", on: .local), token: 1)
        var got: [Int] = []
        for _ in 0..<5 { if let c = router.next(timeout: 0.01) { got.append(c.token) } }
        #expect(got == [1])
    }

    /// Two ends at once while another executor is busy: both come back, in order.
    @Test func twoEndsWhileAnotherExecutorIsBusyBothComeBack() throws {
        let local = FakeExecutor()
        let cluster = FakeExecutor()
        cluster.hanging = ["job"]
        let router = ExecutorRouter([.local: { local }, .slurm: { cluster }])
        _ = try router.start(Self.process("job", on: .slurm), token: 100)
        _ = try router.start(Self.process("a", on: .local), token: 1)
        _ = try router.start(Self.process("b", on: .local), token: 2)
        var got: [Int] = []
        for _ in 0..<5 { if let c = router.next(timeout: 0.01) { got.append(c.token) } }
        #expect(got == [1, 2])
    }
}
