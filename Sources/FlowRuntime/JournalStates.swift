/// What the run journal says of one step in one run (`run_steps.state`).
public enum JournalState: String, Sendable, CaseIterable {
    /// Started and not yet ended (or its flow died: see `RunStatus.running`).
    case running
    /// Ran here and its result was committed.
    case succeeded
    case failed
    /// Stopped by an interruption (or resubmitted after its executor stopped it); not committed.
    case interrupted
    /// Its result was already in the workspace.
    case cached
    /// Its outputs came back from the cache.
    case restored
    /// Not run: an upstream step failed.
    case skipped
    /// Selected, but the run was interrupted before it started.
    case notStarted = "not started"

    /// The step's result is known after this run.
    public var isDone: Bool { self == .succeeded || self == .cached || self == .restored }
    /// The step was in flight when its run ended.
    public var wasInFlight: Bool { self == .running || self == .interrupted }

    /// A state read from the journal; one this flow does not know (a newer flow wrote it) reads as
    /// interrupted: not a result, and nothing to wait for.
    public init(journal text: String) {
        self = JournalState(rawValue: text) ?? .interrupted
    }
}

/// What the run journal says of a whole run (`runs.status`).
public enum RunStatus: String, Sendable, CaseIterable {
    /// In progress, or its flow died (nobody holds the workspace lock).
    case running
    case succeeded
    case failed
    case interrupted

    public init(journal text: String) {
        self = RunStatus(rawValue: text) ?? .interrupted
    }
}
