import Foundation

/// The `timeout` of running steps: when each is due a SIGTERM and, if it has not ended within
/// the grace period after it, a SIGKILL. Pure: the caller passes the time, the builder sends
/// the signals (and a cluster's steps are not watched: the cluster enforces its own limit).
public struct TimeoutWatch: Sendable {
    private struct Watched: Sendable {
        var deadline: Date
        var limit: Int
        var killAt: Date?
    }
    private var watched: [Int: Watched] = [:]
    /// Seconds between the SIGTERM of a step that timed out and its SIGKILL.
    public let grace: Double

    public init(grace: Double) { self.grace = grace }

    /// What is due now.
    public enum Action: Equatable, Sendable {
        /// The step with this token exceeded its limit of `limit` seconds: stop it (SIGTERM).
        case stop(token: Int, limit: Int)
        /// It did not end within the grace period: kill it (SIGKILL), again each time until it ends.
        case kill(token: Int)
    }

    /// Watches the step `token`, started at `started`, with a limit of `limit` seconds (0: none).
    public mutating func watch(_ token: Int, limit: Int, started: Date) {
        guard limit > 0 else { return }
        watched[token] = Watched(deadline: started.addingTimeInterval(Double(limit)), limit: limit)
    }

    /// The step ended (or left flow's hands).
    public mutating func forget(_ token: Int) { watched[token] = nil }

    public func timedOut(_ token: Int) -> Bool { watched[token]?.killAt != nil }

    /// The signals due at `now`, in token order.
    public mutating func due(now: Date) -> [Action] {
        var actions: [Action] = []
        for token in watched.keys.sorted() {
            let w = watched[token]!
            if let killAt = w.killAt {
                if now > killAt { actions.append(.kill(token: token)) }
            } else if now > w.deadline {
                watched[token]!.killAt = now.addingTimeInterval(grace)
                actions.append(.stop(token: token, limit: w.limit))
            }
        }
        return actions
    }
}
