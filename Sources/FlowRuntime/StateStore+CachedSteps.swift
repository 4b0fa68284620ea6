import Foundation
import SQLite

/// The journal's entries of steps found cached, a batch to a row (`run_cached`): a rebuild of
/// 10,000 steps finds 9,900 of them cached, and a row of `run_steps` each was 30 ms of its start
/// and most of the 1.2 MB the journal grew by per run. A batch holds each step's name and key, as
/// `name<TAB>key` lines (`TextRecord`); every reader of the journal sees them as the `cached`
/// entries they are (`steps(ofRun:)`), and an entry of the step in `run_steps` for the same run
/// wins over one here.
extension StateStore {
    /// Journals that the steps `entries` (name and action key in hex) were found cached in run
    /// `run` at `ended`.
    func recordCached(run: Int64, _ entries: [(step: String, key: String)], ended: Date) throws {
        guard !entries.isEmpty else { return }
        var text = ByteText(capacity: entries.count * 48)
        for e in entries {
            text.append(escaped: e.step)
            text.append(byte: UInt8(ascii: "\t"))
            text.append(escaped: e.key)
            text.append(byte: UInt8(ascii: "\n"))
        }
        try db.query("INSERT INTO run_cached(run_id, ended_at, entries) VALUES (?, ?, ?)",
                     [.integer(run), .real(ended.timeIntervalSince1970), .blob(text.bytes)])
    }

    /// The cached entries of run `run`, by step name (a later batch's entry wins).
    func cachedSteps(ofRun run: Int64) throws -> [String: RunStep] {
        var result: [String: RunStep] = [:]
        for r in try db.query("SELECT ended_at, entries FROM run_cached WHERE run_id = ? ORDER BY rowid", [.integer(run)]) {
            let ended = r[0].double.map(Date.init(timeIntervalSince1970:))
            for (step, key) in StateStore.cachedEntries(r[1].bytes ?? []) {
                result[step] = RunStep(step: step, state: .cached, key: key, pid: 0, jobID: "", startedAt: nil, endedAt: ended,
                                       exitStatus: nil, attempt: 1, log: "", note: "", peakMemory: nil, outputSize: nil)
            }
        }
        return result
    }

    /// The runs among `runs` (an SQL list of run ids) after run `after` in which each step was found
    /// cached: (run, step name) pairs.
    func cachedStepNames(inRuns runs: String, after: Int64) throws -> [(run: Int64, step: String)] {
        var result: [(run: Int64, step: String)] = []
        for r in try db.query("SELECT run_id, entries FROM run_cached WHERE run_id IN (\(runs)) AND run_id > ?", [.integer(after)]) {
            guard let run = r[0].int else { continue }
            for (step, _) in StateStore.cachedEntries(r[1].bytes ?? []) { result.append((run, step)) }
        }
        return result
    }

    /// The (name, key) lines of one batch; a malformed line is skipped.
    static func cachedEntries(_ bytes: [UInt8]) -> [(step: String, key: String)] {
        TextRecord.records(String(decoding: bytes, as: UTF8.self)).compactMap { r in r.count == 2 ? (r[0], r[1]) : nil }
    }
}
