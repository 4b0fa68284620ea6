/// A step's state as the graph and the report colour it.
///
/// `fresh`, `restorable` and `stale` come from the same evaluation as `flow status`;
/// `failed` and `running` come from the last run's journal and win over `stale`.
public enum NodeState: String, CaseIterable, Sendable, Comparable {
    case fresh, restorable, stale, failed, running

    /// Orders states by how much attention they need: a group of steps shows its worst.
    var severity: Int {
        switch self {
        case .fresh: return 0
        case .restorable: return 1
        case .stale: return 2
        case .running: return 3
        case .failed: return 4
        }
    }

    public static func < (a: Self, b: Self) -> Bool { a.severity < b.severity }

    /// Fill colour (light, readable with dark text).
    public var fill: String {
        switch self {
        case .fresh: return "#c8e6c9"
        case .restorable: return "#bbdefb"
        case .stale: return "#ffe0b2"
        case .failed: return "#ffcdd2"
        case .running: return "#e1bee7"
        }
    }

    /// Border colour.
    public var stroke: String {
        switch self {
        case .fresh: return "#2e7d32"
        case .restorable: return "#1565c0"
        case .stale: return "#ef6c00"
        case .failed: return "#c62828"
        case .running: return "#6a1b9a"
        }
    }

    /// What the legend says.
    public var meaning: String {
        switch self {
        case .fresh: return "fresh: outputs up to date"
        case .restorable: return "restorable: result in the cache, outputs to restore"
        case .stale: return "stale: must run"
        case .failed: return "failed in the last run"
        case .running: return "running now"
        }
    }

    /// Combines a step's evaluation (`fresh`, `restorable` or `stale`, as `flow status` says)
    /// with its entry in the last run's journal (`failed`, `running`, ...).
    /// A failure shows only while the step is not fresh (a later success clears it);
    /// `running` only while that run is live.
    public static func combine(evaluation: String, lastRun: String?, runIsLive: Bool) -> NodeState {
        let evaluated = NodeState(rawValue: evaluation) ?? .stale
        if runIsLive && lastRun == "running" { return .running }
        if lastRun == "failed" && evaluated != .fresh { return .failed }
        return evaluated
    }
}
