import Foundation
import SQLite
import XXHash

extension StateStore {
    /// A step instance's result as the workspace knows it: its record (the result flow last put
    /// in the workspace, or kept there, for that step) and the run that computed it.
    ///
    /// The record changes when a run computes or restores a result, not on a cache hit; the run
    /// that made it is the newest one in which the step succeeded with the record's key, so a
    /// result restored or kept by later runs still names the run that computed it.
    public struct WorkspaceResult {
        public var step: String
        public var record: StepRecord
        /// The run that computed the result, with its journal entry (start, end, log); nil when
        /// the result was computed outside this workspace's runs (restored from a shared cache).
        public var made: (run: Int64, entry: RunStep)?
    }

    /// The result of `step` in the workspace (`flow log STEP` shows its log), or nil when the
    /// step has none.
    public func workspaceResult(step: String) throws -> WorkspaceResult? {
        guard let record = try record(step: step) else { return nil }
        let made = try runThatMade(step: step, key: record.key.hex).flatMap { run in
            try steps(ofRun: run, includingCached: false).first { $0.step == step }.map { (run, $0) }
        }
        return WorkspaceResult(step: step, record: record, made: made)
    }

    /// Every step instance's result in the workspace, by name, with one query for the runs that
    /// made them and one per such run (a report of 10,000 steps asks once, not 10,000 times).
    public func workspaceResults() throws -> [String: WorkspaceResult] {
        let records = try allRecords()
        var madeBy: [String: Int64] = [:]
        for r in try db.query("""
            SELECT r.step, MAX(s.run_id) FROM step_records r JOIN run_steps s
            ON s.step = r.step AND s.key = r.key AND s.state = 'succeeded' GROUP BY r.step
            """) {
            if let step = r[0].string, let run = r[1].int { madeBy[step] = run }
        }
        var entries: [Int64: [String: RunStep]] = [:]
        for run in Set(madeBy.values) {
            // The runs that made results: their entries that succeeded, never those found cached.
            entries[run] = Dictionary(try steps(ofRun: run, includingCached: false).map { ($0.step, $0) }, uniquingKeysWith: { a, _ in a })
        }
        var result: [String: WorkspaceResult] = [:]
        for (step, record) in records {
            let made = madeBy[step].flatMap { run in entries[run]?[step].map { (run, $0) } }
            result[step] = WorkspaceResult(step: step, record: record, made: made)
        }
        return result
    }
}

extension RunContext {
    /// The log kept in the cache with the result `key`, and the host that computed it; nil when
    /// the result or its log is not in the cache.
    public func cachedLog(ofResult key: Digest128) -> (bytes: [UInt8], host: String)? {
        guard let manifest = actions.lookup(key), let bytes = try? manifest.logBytes(from: store) else { return nil }
        return (bytes, manifest.host)
    }
}
