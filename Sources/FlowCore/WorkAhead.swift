import Dispatch

/// One piece of work run on another thread while the caller goes on, and waited for when its
/// result is taken.
public final class WorkAhead<Value: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `value` is written by the one task `start` runs, before it leaves
    // `group`, and read by `take` only after `group.wait()`; `started` is the caller's alone.
    private var value: Value?
    private var started = false
    private let group = DispatchGroup()

    public init() {}

    public func start(_ work: @escaping @Sendable () -> Value) {
        precondition(!started, "a WorkAhead runs one piece of work at a time")
        started = true
        DispatchQueue.global().async(group: group) { self.value = work() }
    }

    /// The result of the work started last (waiting for it); nil when none was started.
    public func take() -> Value? {
        guard started else { return nil }
        group.wait()
        started = false
        defer { value = nil }
        return value
    }
}
