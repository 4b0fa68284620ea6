import Foundation
import SQLite

/// The Slurm jobs the run journal says may still be out there: for each step, its latest
/// journal entry among the last `SlurmJournal.runsLooked` runs, when that entry is a job still
/// marked running or interrupted (killed flow, `--detach`, Ctrl-C). `flow run` adopts these
/// instead of submitting again; `flow status` asks Slurm about them.
///
/// Entries that say nothing of a step's job are skipped when looking for the latest one:
/// `skipped`, and `interrupted` without a job id or pid (the step had not started in that run).
/// So a failed run in between does not hide a job that a detached run left running.
///
/// Reads only the journal rows it needs: one query for candidate entries, among the steps of
/// runs that were interrupted or died (usually there are none, and then no step row is read and
/// Slurm is never called), and one for the newer entries that may shadow them.
public enum SlurmJournal {
    /// How many of the latest runs are looked at.
    public static let runsLooked = 20

    /// A step's job as the journal has it.
    public struct Entry {
        /// The run whose journal holds the entry.
        public var run: Int64
        public var step: StateStore.RunStep
    }

    /// The open Slurm jobs, by step name (empty when the journal holds none).
    public static func openJobs(_ state: StateStore) -> [String: Entry] {
        let recent = "SELECT id FROM runs ORDER BY id DESC LIMIT \(runsLooked)"
        // Only a run that was interrupted or died leaves entries still running or interrupted (a run
        // that ends otherwise waits for all its steps): the steps of the others are not even read.
        let unfinished = "SELECT id FROM (SELECT id, status FROM runs ORDER BY id DESC LIMIT \(runsLooked)) WHERE status IN ('running', 'interrupted')"
        let candidates = (try? state.db.query("""
            SELECT run_id, step, state, key, job_id, started_at, attempt, log, note FROM run_steps
            WHERE run_id IN (\(unfinished)) AND job_id != '' AND state IN ('running', 'interrupted')
            """)) ?? []
        guard !candidates.isEmpty else { return [:] }
        var latest: [String: Entry] = [:]
        for r in candidates {
            guard let run = r[0].int, let name = r[1].string else { continue }
            let step = StateStore.RunStep(step: name, state: JournalState(journal: r[2].string ?? ""), key: r[3].string ?? "", pid: 0,
                                          jobID: r[4].string ?? "", startedAt: r[5].double.map(Date.init(timeIntervalSince1970:)),
                                          endedAt: nil, exitStatus: nil, attempt: Int(r[6].int ?? 1), log: r[7].string ?? "",
                                          note: r[8].string ?? "", peakMemory: nil, outputSize: nil)
            if let seen = latest[name], seen.run > run { continue }
            latest[name] = Entry(run: run, step: step)
        }
        // Any newer entry of the step that says something of it (it ran, was cached, failed...) shadows the job.
        let oldest = latest.values.map(\.run).min() ?? 0
        // Few candidates (the usual case): only their rows are read.
        let names = latest.count <= 500 ? Array(latest.keys) : []
        let only = names.isEmpty ? "" : "AND step IN (" + names.map { _ in "?" }.joined(separator: ",") + ")"
        let newer = (try? state.db.query("""
            SELECT run_id, step FROM run_steps WHERE run_id IN (\(recent)) AND run_id > ? \(only)
            AND state != 'skipped' AND NOT (state = 'interrupted' AND job_id = '' AND pid = 0)
            """, [.integer(oldest)] + names.map { .text($0) })) ?? []
        for r in newer {
            guard let run = r[0].int, let name = r[1].string, let entry = latest[name], run > entry.run else { continue }
            latest[name] = nil
        }
        // A step found cached in a newer run is as good as any newer entry.
        for (run, name) in (try? state.cachedStepNames(inRuns: recent, after: oldest)) ?? [] {
            guard let entry = latest[name], run > entry.run else { continue }
            latest[name] = nil
        }
        return latest
    }
}
