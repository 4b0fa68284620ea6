import FlowCore
import FlowRuntime

/// A reporter that keeps what a run says, one line per event, for tests to read.
final class TranscriptReporter: RunReporter {
    var lines: [String] = []
    var text: String { lines.joined(separator: "\n") }

    func begin(total: Int, runID: Int64, dryRun: Bool) {}
    func stepStarted(_ step: Step, reasons: [StaleReason], attempt: Int) {}
    func stepSettled(_ step: Step, outcome: StepOutcome, note: String) { lines.append("\(step.name) \(outcome.rawValue) \(note)") }
    func wouldRun(_ step: Step, reasons: [StaleReason]) {}
    func stepFailed(_ step: Step, message: String, logTail: [String], logPath: String?) { lines.append("FAILED \(step.name): \(message)") }
    func warning(_ message: String) { lines.append("warning: \(message)") }
    func note(_ message: String) { lines.append(message) }
    func end(_ summary: RunSummary, workflow: Workflow) {}
}
