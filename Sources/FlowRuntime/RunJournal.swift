import Foundation
import FlowCore
import XXHash

/// The run journal: what became of each step of one run, written to the state as it happens, so
/// that a run that is killed can be resumed and `flow runs` can tell what each run did.
struct RunJournal {
    let state: StateStore
    /// The run being journaled; 0 in a dry run, which journals nothing.
    var runID: Int64 = 0

    /// Records step `name` in `state`. `handle` is a local step's pid or a cluster step's job id.
    func record(_ name: String, _ state: JournalState, key: Digest128? = nil, handle: String = "", started: Date? = nil,
                exit: Int32? = nil, attempt: Int = 1, log: String = "", note: String = "", kind: ExecutorKind = .local) {
        guard runID != 0 else { return }
        let local = kind == .local
        try? self.state.setStep(run: runID, step: name, state: state, key: key?.hex ?? "",
                                pid: local ? Int32(handle) ?? 0 : 0, jobID: local ? "" : handle,
                                started: started, ended: state == .running ? nil : Date(), exitStatus: exit,
                                attempt: attempt, log: log, note: note)
    }

    /// The journal entry an outcome writes when the step settles (the others are journaled as
    /// they happen, with their details).
    static func state(of outcome: StepOutcome) -> JournalState? {
        switch outcome {
        case .skipped: return .skipped
        case .interrupted: return .interrupted
        case .notStarted: return .notStarted
        case .ran, .cached, .restored, .failed, .wouldRun: return nil
        }
    }
}
