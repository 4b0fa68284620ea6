/// How a step ended up in a run.
public enum StepOutcome: String, Sendable {
    case ran, cached, restored, failed, skipped, interrupted, wouldRun = "would run"
    /// Selected, but never started before the run was interrupted.
    case notStarted = "not started"

    /// Its result is in the workspace (or, in a dry run, would be): dependents may go on.
    public var letsDependentsRun: Bool {
        switch self {
        case .ran, .cached, .restored, .wouldRun: return true
        case .failed, .skipped, .interrupted, .notStarted: return false
        }
    }
}
