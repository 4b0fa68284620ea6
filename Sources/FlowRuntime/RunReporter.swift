import Foundation
import FlowCore

/// What a run shows while it goes: one implementation prints plain lines, another keeps a live
/// status area on a terminal.
public protocol RunReporter: AnyObject {
    func begin(total: Int, runID: Int64, dryRun: Bool)
    func stepStarted(_ step: Step, reasons: [StaleReason], attempt: Int)
    func stepSettled(_ step: Step, outcome: StepOutcome, note: String)
    func wouldRun(_ step: Step, reasons: [StaleReason])
    func stepFailed(_ step: Step, message: String, logTail: [String], logPath: String?)
    func warning(_ message: String)
    func note(_ message: String)
    func end(_ summary: RunSummary, workflow: Workflow)
    /// The run has more steps than it began with (a fan-out expanded once its input was known).
    func grow(total: Int)
    /// Called about ten times a second while the run goes, with the steps running now, so a
    /// live display can redraw and read each step's progress file.
    func tick(_ running: [RunningStep], summary: RunSummary)
}

extension RunReporter {
    public func tick(_ running: [RunningStep], summary: RunSummary) {}
    public func grow(total: Int) {}
}

/// A step that is running, as a reporter sees it.
public struct RunningStep: Sendable {
    public var name: String
    public var started: Date
    public var attempt: Int
    /// The file the step appends progress lines to (`FLOW_PROGRESS`); its last line is its status.
    public var progressPath: String
    /// The process id, or the Slurm job id.
    public var handle: String
}

/// Plain lines, ninja-style: `[3/7] ran embed[3] (1.2s)`. Failures go to stderr with the log tail.
/// `flow run` uses it when standard output is not a terminal, in CI, and with `--quiet`;
/// `TerminalReporter` otherwise.
public final class PlainReporter: RunReporter {
    var total = 0
    var settled = 0
    let quiet: Bool
    let verbose: Bool
    /// Prefix each line with the wall-clock time (for logs: not a terminal, or CI).
    let timestamps: Bool
    let lock = NSLock()

    public init(quiet: Bool = false, verbose: Bool = false, timestamps: Bool = false) {
        self.quiet = quiet
        self.verbose = verbose
        self.timestamps = timestamps
    }

    func out(_ line: String, error: Bool = false) {
        lock.lock()
        defer { lock.unlock() }
        var text = line
        if timestamps { text = "\(WallClock.time()) \(line)" }
        FileHandle(fileDescriptor: error ? 2 : 1).write(Data((text + "\n").utf8))
    }

    public func begin(total: Int, runID: Int64, dryRun: Bool) {
        self.total = total
    }

    public func grow(total: Int) { self.total = total }

    public func stepStarted(_ step: Step, reasons: [StaleReason], attempt: Int) {
        guard !quiet else { return }
        let why = reasons.first.map { " (\($0))" } ?? ""
        out("[\(settled + 1)/\(total)] start \(step.name)\(attempt > 1 ? " attempt \(attempt)" : "")\(why)")
        if verbose { out("    \(step.commandLine)") }
    }

    public func stepSettled(_ step: Step, outcome: StepOutcome, note: String) {
        settled += 1
        guard !quiet || outcome == .failed else { return }
        if outcome == .wouldRun { return }
        if (outcome == .cached) && !verbose { return }
        out("[\(settled)/\(total)] \(outcome.rawValue) \(step.name)\(note.isEmpty ? "" : " (\(note))")")
    }

    public func wouldRun(_ step: Step, reasons: [StaleReason]) {
        out("would run \(step.name): \(reasons.map(\.description).joined(separator: "; "))")
        if verbose { out("    \(step.commandLine)") }
    }

    public func stepFailed(_ step: Step, message: String, logTail: [String], logPath: String?) {
        var lines = ["FAILED \(step.name): \(message)", "  \(step.commandLine)"]
        if !logTail.isEmpty {
            lines.append("  last \(logTail.count) lines of its log:")
            lines += logTail.map { "  | \($0)" }
        }
        if let logPath { lines.append("  full log: \(logPath)") }
        out(lines.joined(separator: "\n"), error: true)
    }

    public func warning(_ message: String) {
        out("flow: warning: \(message)", error: true)
    }

    public func note(_ message: String) {
        if !quiet { out("flow: \(message)") }
    }

    public func end(_ summary: RunSummary, workflow: Workflow) {
        let parts = [StepOutcome.ran, .cached, .restored, .wouldRun, .failed, .skipped, .interrupted, .notStarted].compactMap { o -> String? in
            let n = summary.count(o)
            return n > 0 ? "\(n) \(o.rawValue)" : nil
        }
        let status = summary.interrupted ? "interrupted" : (summary.failed ? "FAILED" : "done")
        let run = summary.runID > 0 ? "run \(summary.runID) " : ""
        // Always: --quiet keeps failures and this summary (docs/report.md).
        do {
            out(String(format: "flow: %@%@: %@ (%.2fs)", run, status, parts.isEmpty ? "nothing to do" : parts.joined(separator: ", "), summary.duration),
                error: summary.failed || summary.interrupted)
        }
    }
}
