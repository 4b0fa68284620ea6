import Foundation
import FlowCore
import XXHash

/// The run journal: what became of each step of one run, written to the state as it happens, so
/// that a run that is killed can be resumed and `flow runs` can tell what each run did.
struct RunJournal {
    let state: StateStore
    /// The run being journaled; 0 in a dry run, which journals nothing.
    var runID: Int64 = 0

    /// One step's entry, as `StateStore.setStep` writes it.
    struct Entry {
        var step: String
        var state: JournalState
        var key: String
        var pid: Int32
        var jobID: String
        var started: Date?
        var ended: Date?
        var exit: Int32?
        var attempt: Int
        var log: String
        var note: String
    }

    /// The entries of steps found cached between `holdCached` and `writeHeldCached`, written
    /// together: a rebuild that finds most of 1,000 steps cached wrote one transaction for each.
    var heldCached: [Entry]? = nil

    /// The running entries of local steps started while a finished step commits (see
    /// `holdRunning`); nil when they are written as they happen.
    var heldRunning: [Entry]? = nil

    /// Records step `name` in `state`. `handle` is a local step's pid or a cluster step's job id.
    mutating func record(_ name: String, _ state: JournalState, key: Digest128? = nil, handle: String = "", started: Date? = nil,
                         exit: Int32? = nil, attempt: Int = 1, log: String = "", note: String = "", kind: ExecutorKind = .local) {
        guard runID != 0 else { return }
        let local = kind == .local
        let entry = Entry(step: name, state: state, key: key?.hex ?? "", pid: local ? Int32(handle) ?? 0 : 0, jobID: local ? "" : handle,
                          started: started, ended: state == .running ? nil : Date(), exit: exit, attempt: attempt, log: log, note: note)
        if state == .cached && heldCached != nil {
            heldCached!.append(entry)
        } else if state == .running && local && heldRunning != nil {
            heldRunning!.append(entry)
        } else {
            write(entry)
        }
    }

    private func write(_ e: Entry) {
        try? state.setStep(run: runID, step: e.step, state: e.state, key: e.key, pid: e.pid, jobID: e.jobID, started: e.started,
                           ended: e.ended, exitStatus: e.exit, attempt: e.attempt, log: e.log, note: e.note)
    }

    /// From now on, steps found cached are journaled by `writeHeldCached`, in one transaction.
    /// Only those are held: an entry a resumed run relies on (running, succeeded, failed) is
    /// written as it happens, and a cached step whose entry a crash lost is found cached again.
    mutating func holdCached() {
        if heldCached == nil { heldCached = [] }
    }

    mutating func writeHeldCached() {
        defer { heldCached = nil }
        guard let held = heldCached, !held.isEmpty else { return }
        // One row for the batch (`StateStore+CachedSteps`); a crash that loses it loses nothing
        // a resumed run relies on.
        try? state.recordCached(run: runID, held.map { ($0.step, $0.key) }, ended: held[0].ended ?? Date())
    }

    /// Held entries, in one transaction (or in the caller's).
    private func write(all held: [Entry]?) {
        guard let held, !held.isEmpty else { return }
        try? state.batch { for e in held { write(e) } }
    }

    /// From now on, the running entries of local steps are held until `writeHeldRunning`, which
    /// the commit of the step whose slot they took calls in its own transaction: one write to the
    /// state per step instead of two. Only local steps: their processes end with flow, so a crash
    /// before the write loses nothing a resumed run could use (a cluster job's entry names work
    /// that outlives flow, and is written as it happens).
    mutating func holdRunning() {
        if heldRunning == nil { heldRunning = [] }
    }

    /// Writes the held running entries (inside the caller's transaction, if any) and stops
    /// holding them. A transaction that fails takes them with it: the steps' ends are still
    /// journaled, and a running entry only says what was in flight.
    mutating func writeHeldRunning() {
        write(all: heldRunning)
        heldRunning = nil
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
