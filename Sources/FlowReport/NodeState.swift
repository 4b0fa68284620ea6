import FlowRuntime

/// A step's state as the graph and the report colour it.
///
/// Today's state (`flow graph`, `flow report`): `fresh`, `restorable` and `stale` come from the
/// same evaluation as `flow status`; `failed` and `running` come from the last run's journal and
/// win over `stale`. `waits` is a step whose instances are not known yet (`Workflow.deferred`),
/// drawn as one node whatever the run.
///
/// A past run's record (`flow report --run R`): what the step did in run R, whatever the
/// workspace holds now: `ran`, `cached`, `restored`, `failed`, `interrupted`, `running` (while
/// that run is live), or `skipped` (no entry in that run).
public enum NodeState: String, CaseIterable, Sendable, Comparable {
    case fresh, restorable, stale, failed, running, waits
    case ran, cached, restored, interrupted, skipped

    /// Orders states by how much attention they need: a group of steps shows its worst.
    var severity: Int {
        switch self {
        case .fresh, .cached: return 0
        case .restorable, .ran, .restored: return 1
        case .stale, .skipped, .waits: return 2
        case .running, .interrupted: return 3
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
        case .waits: return "#f5f5f5"
        case .ran: return "#a5d6a7"
        case .cached: return "#b2dfdb"
        case .restored: return "#bbdefb"
        case .interrupted: return "#ffecb3"
        case .skipped: return "#eceff1"
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
        case .waits: return "#757575"
        case .ran: return "#2e7d32"
        case .cached: return "#00796b"
        case .restored: return "#1565c0"
        case .interrupted: return "#ff8f00"
        case .skipped: return "#90a4ae"
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
        case .waits: return "waits: expands once the step it waits for has run"
        case .ran: return "ran: computed in this run"
        case .cached: return "cached: already up to date in this run"
        case .restored: return "restored from the cache in this run"
        case .interrupted: return "interrupted in this run"
        case .skipped: return "skipped: not part of this run"
        }
    }

    /// Combines a step's evaluation (`fresh`, `restorable` or `stale`, as `flow status` says)
    /// with its entry in the last run's journal (`failed`, `running`, ...).
    /// A failure shows only while the step is not fresh (a later success clears it);
    /// `running` only while that run is live.
    public static func combine(evaluation: String, lastRun: JournalState?, runIsLive: Bool) -> NodeState {
        let evaluated = NodeState(rawValue: evaluation) ?? .stale
        if runIsLive && lastRun == .running { return .running }
        if lastRun == .failed && evaluated != .fresh { return .failed }
        return evaluated
    }

    /// A step's entry in a run's journal as that run's record colours it; nil (no entry) is
    /// `skipped`, and a step still marked running in a run that is over was interrupted.
    public static func record(_ journalState: JournalState?, runIsLive: Bool) -> NodeState {
        switch journalState {
        case .succeeded: return .ran
        case .cached: return .cached
        case .restored: return .restored
        case .failed: return .failed
        case .interrupted: return .interrupted
        case .running: return runIsLive ? .running : .interrupted
        case .skipped, .notStarted, nil: return .skipped
        }
    }
}
