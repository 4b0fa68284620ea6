import Foundation

/// Everything the HTML report shows, as plain values: `ReportBuilder` fills it from a workspace,
/// `RunReport.html()` renders it. Sections with nothing to show are left out.
///
/// It describes either one run (`run`, from `flow report --run R`), or the results that are in
/// the workspace now and the runs that made them (`results`, the default).
public struct RunReport: Sendable {
    /// The workflow file, shown as the title.
    public var workflowFile: String
    /// The run reported on; nil for a report of the workspace's results, or when the workspace
    /// has no run yet (the report shows the graph only).
    public var run: RunInfo?
    /// The workspace's results (when `run` is nil): which runs made them.
    public var results: ResultsInfo?
    public var graph: GraphModel
    /// The run's journal, one row per step, in start order; or, for the workspace's results, one
    /// row per step instance in workflow order, each from the run that made its result.
    public var steps: [StepRow]
    public var metrics: MetricsSection?
    public var lossCurves: [LossCurve] = []
    public var clusterSizes: [ClusterSizes] = []
    public var accuracy: [AccuracyRow] = []
    /// When the report was made (shown in the footer, and the end of a live run's bars).
    public var generated: Date

    public init(workflowFile: String, run: RunInfo?, graph: GraphModel, steps: [StepRow], generated: Date = Date()) {
        self.workflowFile = workflowFile
        self.run = run
        self.graph = graph
        self.steps = steps
        self.generated = generated
    }
}

/// A run from the journal (`flow runs`).
public struct RunInfo: Sendable {
    public var id: Int64
    public var command: String
    public var startedAt: Date
    /// Nil while running, or when the run died (nobody knows when).
    public var endedAt: Date?
    public var status: String
    public var summary: String
    public var variables: String

    public init(id: Int64, command: String, startedAt: Date, endedAt: Date?, status: String, summary: String, variables: String) {
        self.id = id
        self.command = command
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.status = status
        self.summary = summary
        self.variables = variables
    }
}

/// The results in the workspace and the runs that made them.
public struct ResultsInfo: Sendable {
    /// The runs that made the results shown, newest first.
    public var runs: [RunInfo]
    /// The newest run of the workspace, which may have made none of them (all cache hits).
    public var newest: RunInfo?

    public init(runs: [RunInfo], newest: RunInfo?) {
        self.runs = runs
        self.newest = newest
    }
}

/// One step of a run, from the journal.
public struct StepRow: Sendable {
    public var name: String
    /// The journal state: succeeded, cached, restored, failed, running, interrupted, skipped.
    public var state: String
    /// Nil for cached, restored and skipped steps (they did not run).
    public var started: Date?
    public var ended: Date?
    public var attempt: Int
    public var exitStatus: Int32?
    public var peakMemory: Int64?
    public var outputSize: Int64?
    public var note: String
    /// For the workspace's results: the run that made the step's result (nil when none of this
    /// workspace's runs did), the step's state now (`fresh`, `stale`, `restorable`, `failed`,
    /// `not produced`), the log's path and its last lines.
    public var run: Int64?
    public var now: String?
    public var log: String = ""
    public var logTail: String?
    /// For a step whose instances are not known yet (`now` is `waits`): the step it waits for.
    public var expandsAfter: String?

    public init(name: String, state: String, started: Date?, ended: Date?, attempt: Int = 1, exitStatus: Int32? = nil,
                peakMemory: Int64? = nil, outputSize: Int64? = nil, note: String = "") {
        self.name = name
        self.state = state
        self.started = started
        self.ended = ended
        self.attempt = attempt
        self.exitStatus = exitStatus
        self.peakMemory = peakMemory
        self.outputSize = outputSize
        self.note = note
    }

    /// The result came from the cache instead of running.
    public var cacheHit: Bool { state == "cached" || state == "restored" }

    public var duration: Double? {
        guard let started, let ended else { return nil }
        return ended.timeIntervalSince(started)
    }
}

/// Training curves from one `.jsonl` output: `loss` and its parts against `step`.
public struct LossCurve: Sendable {
    public var step: String
    public var path: String
    public var series: [Series]

    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
    }
}

/// Cluster sizes per level before and after balanced sampling (`flow op sample-clusters --report`).
public struct ClusterSizes: Sendable {
    public var step: String
    public var path: String
    public var levels: [Level]

    public struct Level: Sendable {
        public var level: Int
        public var before: [Int]
        public var after: [Int]
    }
}

/// One model's evaluation results (`flow op eval-knn`, `flow op eval-linear`).
public struct AccuracyRow: Sendable {
    /// What the row is: the model file's name, or the step name without "eval", "knn", "linear".
    public var model: String
    /// The model path or steps the numbers come from.
    public var detail: String
    /// Best k-NN top-1 over the k values tried, and that k.
    public var knnTop1: Double?
    public var knnK: Int?
    public var linearTop1: Double?
}
