import Foundation
import FlowCore
import SQLite
import XXHash

/// The workspace's crash-safe state, in SQLite (WAL mode) at `.flow/state.db`:
///
/// - `stat_cache`: path → (device, inode, size, mtime, ctime) and the content digest seen with
///   that signature, so an unchanged file is never read twice.
/// - `step_records`: for each step name, the definition and key of its last successful run, to
///   explain why it is stale now.
/// - `produced`: every output path flow put in the workspace, with the step instance and the
///   content digest, so that outputs of steps that left the workflow can be found and removed
///   (and never what a user wrote by hand). See `OrphanOutputs`.
/// - `runs` and `run_steps`: the run journal: every run, and each step's state, pid, times and
///   exit status, written as things happen, so a killed run can be resumed and reported;
///   `run_cached`: the steps each run found cached, a batch to a row (`StateStore+CachedSteps`).
///
/// A write is a transaction: kill -9 at any moment leaves the previous state or the new one.
/// The cache's objects and manifests are plain files, not here.
public final class StateStore {
    let db: Database
    static let schemaVersion = 1
    /// SQLite's `user_version` once the tables and columns below exist: raise it with every
    /// column added, so that an open can tell from the header alone that nothing is to be done.
    static let layoutVersion: Int64 = 4
    /// `.flow/` of the workspace.
    let directory: String
    /// The database file this store opened and found sound (device and inode), when closing may
    /// seal it (`StateSeal`): only a store that may write. Nil for the others.
    private let sealable: (device: UInt64, inode: UInt64)?
    /// Whether opening ran SQLite's check (the files were not as sealed).
    let checkedAtOpen: Bool

    public init(directory: String, readOnly: Bool = false) throws {
        self.directory = directory
        if !readOnly { try FileIO.makeDirectories(directory) }
        let path = directory + "/state.db"
        do {
            (db, checkedAtOpen) = try StateStore.open(path, readOnly: readOnly)
        } catch let e as StateDamaged where !readOnly {
            // Only a cache and a journal: move it aside (for a post-mortem), say what is lost, start anew.
            let aside = path + ".damaged-\(Int(Date().timeIntervalSince1970))"
            StateSeal.remove(database: path)
            for suffix in ["", "-wal", "-shm"] { rename(path + suffix, aside + suffix) }
            FileHandle.standardError.write(Data("""
                flow: warning: the workspace state \(path) is damaged (\(e.reason)); it was moved to \(aside) and a new one started. \
                Nothing in the cache is lost: inputs are hashed again, and results come back from the cache. \
                Lost: the run journal (flow runs, flow log of earlier runs) and the last definitions that explain why a step is stale.

                """.utf8))
            (db, checkedAtOpen) = try StateStore.open(path, readOnly: readOnly)
        }
        // Unsealed while this store has it open: if this process dies, or damage turns up, the
        // next open checks. A clean close seals it again.
        if readOnly {
            sealable = nil
        } else {
            StateSeal.remove(database: path)
            sealable = FileStat.of(path, followLinks: false).map { ($0.device, $0.inode) }
        }
    }

    /// Opens an existing, current state database for a short write (the no-op run's journal
    /// entry) without checking it: a damaged or older one fails here or in that write, and the
    /// caller then takes the full path, which checks, repairs and upgrades.
    public init(unchecked directory: String) throws {
        self.directory = directory
        sealable = nil
        checkedAtOpen = false
        db = try Database(path: directory + "/state.db")
        guard try db.query("PRAGMA user_version").first?[0].int == StateStore.layoutVersion else {
            throw StateDamaged(reason: "not of the current layout")
        }
        try db.execute("PRAGMA synchronous=NORMAL")
        // A no-op run's entry: the WAL is left for the next full open, so that a series of no-op
        // runs appends to it without an fsync (SQLite checkpoints it once it grows).
        db.skipCheckpointOnClose()
    }

    deinit { close() }

    private var closed = false

    /// Closes the database (SQLite folds the WAL in) and seals its files, unless SQLite said
    /// they were damaged on the way (then any seal goes, so that the next open checks them and
    /// moves them aside) or the file is no longer the one this store opened. Called by `deinit`,
    /// or earlier by a command that leaves the store's holders to the process's exit
    /// (`LeftForExit`): nothing may use the store afterwards. Closing again does nothing.
    public func close() {
        guard !closed else { return }
        closed = true
        let path = directory + "/state.db"
        let damaged = db.sawDamage
        db.close()
        if damaged {
            StateSeal.remove(database: path)
            return
        }
        guard let opened = sealable,
              let now = FileStat.of(path, followLinks: false), now.device == opened.device, now.inode == opened.inode else { return }
        StateSeal.record(database: path)
    }

    /// The state database is damaged (a crash of the disk, a truncated or overwritten file).
    struct StateDamaged: Error { var reason: String }

    /// Opens the database, checks it unless it is sealed (`PRAGMA quick_check`, which reads it
    /// all; see `StateSeal`) and creates or upgrades its tables.
    static func open(_ path: String, readOnly: Bool) throws -> (db: Database, checked: Bool) {
        // Read before SQLite opens the files (opening a WAL database can create its -wal).
        let sealed = StateSeal.holds(database: path)
        let db = try Database(path: path, readOnly: readOnly)
        do {
            if !sealed {
                let check = try db.query("PRAGMA quick_check(1)").first?[0].string ?? "no answer"
                guard check == "ok" else { throw StateDamaged(reason: check) }
            }
            if readOnly { return (db, !sealed) }
            if try db.query("PRAGMA user_version").first?[0].int == layoutVersion {
                try db.execute("PRAGMA synchronous=NORMAL")
            } else {
                try createSchema(db)
            }
        } catch let e as SQLiteError where e.isCorrupt {
            throw StateDamaged(reason: e.message)
        } catch let e as SQLiteError where e.isReadOnly {
            throw SystemError("write the workspace state", path, errno: EACCES)
        }
        return (db, !sealed)
    }

    /// Creates the tables, in one write transaction: two flows opening a new workspace at once
    /// must not both add a column (the second would fail), nor see a half-made schema.
    static func createSchema(_ db: Database) throws {
        // Switching to WAL takes a lock that the busy timeout does not wait for: retry a while.
        var tries = 0
        while true {
            do {
                _ = try db.query("PRAGMA journal_mode=WAL")
                break
            } catch let e as SQLiteError where e.isBusy && tries < 200 {
                tries += 1
                usleep(50_000)
            }
        }
        try db.execute("PRAGMA synchronous=NORMAL")
        try db.transaction {
            try db.execute("""
                CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
                CREATE TABLE IF NOT EXISTS stat_cache(path TEXT PRIMARY KEY, device INTEGER, inode INTEGER, size INTEGER,
                    mtime_ns INTEGER, ctime_ns INTEGER, digest TEXT);
                CREATE TABLE IF NOT EXISTS step_records(step TEXT PRIMARY KEY, key TEXT, definition TEXT, duration REAL,
                    output_size INTEGER, finished_at REAL, run_id INTEGER);
                CREATE TABLE IF NOT EXISTS runs(id INTEGER PRIMARY KEY, command TEXT, dag TEXT, variables TEXT,
                    started_at REAL, ended_at REAL, status TEXT, pid INTEGER, host TEXT, summary TEXT);
                CREATE TABLE IF NOT EXISTS run_steps(run_id INTEGER, step TEXT, state TEXT, key TEXT, pid INTEGER,
                    job_id TEXT, started_at REAL, ended_at REAL, exit_status INTEGER, attempt INTEGER, log TEXT, note TEXT,
                    PRIMARY KEY(run_id, step));
                CREATE TABLE IF NOT EXISTS produced(path TEXT PRIMARY KEY, step TEXT, digest TEXT, workflow TEXT);
                CREATE TABLE IF NOT EXISTS run_cached(run_id INTEGER, ended_at REAL, entries BLOB);
                CREATE INDEX IF NOT EXISTS run_cached_run ON run_cached(run_id);
                INSERT OR IGNORE INTO meta VALUES ('schema', '\(StateStore.schemaVersion)');
                """)
            try addColumnsIfMissing(db, table: "run_steps", ["peak_rss INTEGER", "output_size INTEGER"])
            try addColumnsIfMissing(db, table: "produced", ["workflow TEXT"])
            try addColumnsIfMissing(db, table: "runs", ["git_commit TEXT"])
            try db.execute("PRAGMA user_version = \(layoutVersion)")
        }
    }

    /// Columns added after a table was first created: a workspace made by an older flow gets
    /// them on open (SQLite cannot `ADD COLUMN IF NOT EXISTS`).
    static func addColumnsIfMissing(_ db: Database, table: String, _ columns: [String]) throws {
        let existing = Set(try db.query("PRAGMA table_info(\(table))").compactMap { $0[1].string })
        for column in columns where !existing.contains(String(column.split(separator: " ")[0])) {
            try db.execute("ALTER TABLE \(table) ADD COLUMN \(column)")
        }
    }

    // MARK: stat cache

    /// The digest recorded for `path` when its stat signature was `stat`, if it still is.
    public func cachedDigest(_ path: String, _ stat: FileStat) throws -> Digest128? {
        let rows = try db.query("SELECT device, inode, size, mtime_ns, ctime_ns, digest FROM stat_cache WHERE path = ?", [.text(path)])
        guard let r = rows.first,
              r[0].int == Int64(bitPattern: stat.device), r[1].int == Int64(bitPattern: stat.inode), r[2].int == stat.size,
              r[3].int == stat.mtimeNs, r[4].int == stat.ctimeNs, let hex = r[5].string else { return nil }
        return Digest128(hex: hex)
    }

    public func recordDigest(_ path: String, _ stat: FileStat, _ digest: Digest128) throws {
        try db.query("INSERT OR REPLACE INTO stat_cache VALUES (?, ?, ?, ?, ?, ?, ?)", [
            .text(path), .integer(Int64(bitPattern: stat.device)), .integer(Int64(bitPattern: stat.inode)),
            .integer(stat.size), .integer(stat.mtimeNs), .integer(stat.ctimeNs), .text(digest.hex),
        ])
    }

    /// Groups many writes in one transaction (much faster than one each).
    public func batch<T>(_ body: () throws -> T) throws -> T {
        try db.transaction(body)
    }

    // MARK: step records

    public struct StepRecord {
        public var key: Digest128
        /// The definition in its stored text form, decoded only when asked for (most steps are
        /// fresh, and `flow status` should not pay for explaining what needs no explanation).
        var definitionText: String
        public var duration: Double
        public var outputSize: Int64
        public var finishedAt: Date
        public var runID: Int64

        public init(key: Digest128, definition: StepDefinition, duration: Double, outputSize: Int64, finishedAt: Date, runID: Int64) {
            self.init(key: key, definitionText: DefinitionCodec.encode(definition), duration: duration, outputSize: outputSize,
                      finishedAt: finishedAt, runID: runID)
        }

        init(key: Digest128, definitionText: String, duration: Double, outputSize: Int64, finishedAt: Date, runID: Int64) {
            self.key = key
            self.definitionText = definitionText
            self.duration = duration
            self.outputSize = outputSize
            self.finishedAt = finishedAt
            self.runID = runID
        }

        public var definition: StepDefinition? { DefinitionCodec.decode(definitionText) }
    }

    public func record(step: String) throws -> StepRecord? {
        let rows = try db.query("SELECT key, definition, duration, output_size, finished_at, run_id FROM step_records WHERE step = ?", [.text(step)])
        guard let r = rows.first, let key = r[0].string.flatMap(Digest128.init(hex:)), let text = r[1].string else { return nil }
        return StepRecord(key: key, definitionText: text, duration: r[2].double ?? 0, outputSize: r[3].int ?? 0,
                          finishedAt: Date(timeIntervalSince1970: r[4].double ?? 0), runID: r[5].int ?? 0)
    }

    public func allRecords() throws -> [String: StepRecord] {
        var result: [String: StepRecord] = [:]
        for r in try db.query("SELECT step, key, definition, duration, output_size, finished_at, run_id FROM step_records") {
            guard let step = r[0].string, let key = r[1].string.flatMap(Digest128.init(hex:)), let text = r[2].string else { continue }
            result[step] = StepRecord(key: key, definitionText: text, duration: r[3].double ?? 0, outputSize: r[4].int ?? 0,
                                      finishedAt: Date(timeIntervalSince1970: r[5].double ?? 0), runID: r[6].int ?? 0)
        }
        return result
    }

    /// Each recorded step's last duration, without its definition text (the fresh snapshot).
    public func durations() throws -> [String: Double] {
        var result: [String: Double] = [:]
        for r in try db.query("SELECT step, duration FROM step_records") {
            guard let step = r[0].string else { continue }
            result[step] = r[1].double ?? 0
        }
        return result
    }

    public func saveRecord(step: String, _ record: StepRecord) throws {
        try db.query("INSERT OR REPLACE INTO step_records VALUES (?, ?, ?, ?, ?, ?, ?)", [
            .text(step), .text(record.key.hex), .text(record.definitionText), .real(record.duration),
            .integer(record.outputSize), .real(record.finishedAt.timeIntervalSince1970), .integer(record.runID),
        ])
    }

    // MARK: run journal

    public struct Run {
        public var id: Int64
        public var command: String
        public var dag: String
        public var variables: String
        public var startedAt: Date
        public var endedAt: Date?
        public var status: RunStatus
        public var pid: Int32
        public var summary: String
    }

    public func beginRun(command: String, dag: String, variables: [String: String]) throws -> Int64 {
        try insertRun(command: command, dag: dag, variables: variables, started: Date(), ended: nil, status: .running, summary: "")
    }

    /// Journals a run that found everything fresh, begun and ended in one write.
    public func recordNoopRun(command: String, dag: String, variables: [String: String], started: Date, summary: String) throws -> Int64 {
        try insertRun(command: command, dag: dag, variables: variables, started: started, ended: Date(), status: .succeeded, summary: summary)
    }

    private func insertRun(command: String, dag: String, variables: [String: String], started: Date, ended: Date?,
                           status: RunStatus, summary: String) throws -> Int64 {
        let vars = variables.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        // The commit checked out in the workspace, for `flow metrics diff --rev`.
        let commit = GitCommit.checkedOut(in: (directory as NSString).deletingLastPathComponent)
        try db.query("""
            INSERT INTO runs(command, dag, variables, started_at, ended_at, status, pid, host, summary, git_commit)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [
            .text(command), .text(dag), .text(vars), .real(started.timeIntervalSince1970), ended.map { .real($0.timeIntervalSince1970) } ?? .null,
            .text(status.rawValue), .integer(Int64(getpid())), .text(ProcessInfo.processInfo.hostName),
            .text(summary), commit.map { .text($0) } ?? .null,
        ])
        return db.lastInsertRowID
    }

    public func endRun(_ id: Int64, status: RunStatus, summary: String) throws {
        // A run found dead keeps no end time: nobody knows when it died.
        try db.query("UPDATE runs SET ended_at = CASE WHEN ? THEN ? ELSE ended_at END, status = ?, summary = ? WHERE id = ?", [
            .integer(summary.isEmpty && status == .interrupted ? 0 : 1), .real(Date().timeIntervalSince1970), .text(status.rawValue), .text(summary), .integer(id),
        ])
        // Steps still marked running belong to this run's end: they were interrupted.
        try db.query("UPDATE run_steps SET state = 'interrupted', ended_at = ? WHERE run_id = ? AND state = 'running'", [
            .real(Date().timeIntervalSince1970), .integer(id),
        ])
    }

    /// The last run, when it was interrupted (or died: still marked running while nobody holds
    /// the workspace lock, which the caller does). Marks a dead one interrupted.
    public func interruptedRun() throws -> (run: Int64, done: Int, inFlight: Int)? {
        guard let last = try runs(limit: 1).first, last.status == .running || last.status == .interrupted else { return nil }
        if last.status == .running { try endRun(last.id, status: .interrupted, summary: "") }
        let steps = try self.steps(ofRun: last.id)
        let done = steps.filter { $0.state.isDone }.count
        let inFlight = steps.filter { $0.state.wasInFlight }.count
        return (last.id, done, inFlight)
    }

    /// The newest run that began with `commit` checked out, if any.
    public func newestRun(atCommit commit: String) throws -> Int64? {
        try db.query("SELECT id FROM runs WHERE git_commit = ? ORDER BY id DESC LIMIT 1", [.text(commit)]).first?[0].int
    }

    public func runs(limit: Int = 50) throws -> [Run] {
        try db.query("SELECT id, command, dag, variables, started_at, ended_at, status, pid, summary FROM runs ORDER BY id DESC LIMIT ?",
                     [.integer(Int64(limit))]).map(Self.run)
    }

    public func run(_ id: Int64) throws -> Run? {
        try db.query("SELECT id, command, dag, variables, started_at, ended_at, status, pid, summary FROM runs WHERE id = ?",
                     [.integer(id)]).first.map(Self.run)
    }

    static func run(_ r: [SQLValue]) -> Run {
        Run(id: r[0].int ?? 0, command: r[1].string ?? "", dag: r[2].string ?? "", variables: r[3].string ?? "",
            startedAt: Date(timeIntervalSince1970: r[4].double ?? 0), endedAt: r[5].double.map(Date.init(timeIntervalSince1970:)),
            status: RunStatus(journal: r[6].string ?? ""), pid: Int32(r[7].int ?? 0), summary: r[8].string ?? "")
    }

    public struct RunStep {
        public var step: String
        public var state: JournalState
        public var key: String
        public var pid: Int32
        public var jobID: String
        public var startedAt: Date?
        public var endedAt: Date?
        public var exitStatus: Int32?
        public var attempt: Int
        public var log: String
        public var note: String
        /// The largest resident set of the step's processes, in bytes (local steps only).
        public var peakMemory: Int64?
        /// The total size of the step's outputs, in bytes, when it succeeded or was restored.
        public var outputSize: Int64?
    }

    public func setStep(run: Int64, step: String, state: JournalState, key: String = "", pid: Int32 = 0, jobID: String = "",
                        started: Date? = nil, ended: Date? = nil, exitStatus: Int32? = nil, attempt: Int = 1,
                        log: String = "", note: String = "") throws {
        try db.query("""
            INSERT OR REPLACE INTO run_steps(run_id, step, state, key, pid, job_id, started_at, ended_at, exit_status, attempt, log, note)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [
            .integer(run), .text(step), .text(state.rawValue), .text(key), .integer(Int64(pid)), .text(jobID),
            started.map { .real($0.timeIntervalSince1970) } ?? .null, ended.map { .real($0.timeIntervalSince1970) } ?? .null,
            exitStatus.map { .integer(Int64($0)) } ?? .null, .integer(Int64(attempt)), .text(log), .text(note),
        ])
    }

    /// Records what a finished step used and produced.
    public func setUsage(run: Int64, step: String, peakMemory: Int64?, outputSize: Int64?) throws {
        try db.query("UPDATE run_steps SET peak_rss = ?, output_size = ? WHERE run_id = ? AND step = ?", [
            peakMemory.map { .integer($0) } ?? .null, outputSize.map { .integer($0) } ?? .null, .integer(run), .text(step),
        ])
    }

    /// Every entry of run `run`, in start order (those that never started first), then by name.
    /// The entries of steps found cached are included unless `includingCached` is false: a
    /// reader that looks only for what ran, started or failed need not read those batches.
    public func steps(ofRun run: Int64, includingCached: Bool = true) throws -> [RunStep] {
        let rows = try db.query("SELECT step, state, key, pid, job_id, started_at, ended_at, exit_status, attempt, log, note, peak_rss, output_size FROM run_steps WHERE run_id = ? ORDER BY started_at, step",
                                [.integer(run)]).map { r in
            RunStep(step: r[0].string ?? "", state: JournalState(journal: r[1].string ?? ""), key: r[2].string ?? "", pid: Int32(r[3].int ?? 0),
                    jobID: r[4].string ?? "", startedAt: r[5].double.map(Date.init(timeIntervalSince1970:)),
                    endedAt: r[6].double.map(Date.init(timeIntervalSince1970:)), exitStatus: r[7].int.map { Int32($0) },
                    attempt: Int(r[8].int ?? 1), log: r[9].string ?? "", note: r[10].string ?? "",
                    peakMemory: r[11].int, outputSize: r[12].int)
        }
        guard includingCached else { return rows }
        var cached = try cachedSteps(ofRun: run)
        guard !cached.isEmpty else { return rows }
        for r in rows { cached[r.step] = nil }
        // As SQLite orders them: no start time first, then by time, then by name (its bytes).
        return (rows + cached.values).sorted { a, b in
            switch (a.startedAt, b.startedAt) {
            case (nil, .some): return true
            case (.some, nil): return false
            case let (x?, y?) where x != y: return x < y
            default: return a.step.utf8.lexicographicallyPrecedes(b.step.utf8)
            }
        }
    }

    /// The run in which `step` succeeded with action key `key` (the run that made that result).
    public func runThatMade(step: String, key: String) throws -> Int64? {
        try db.query("SELECT run_id FROM run_steps WHERE step = ? AND key = ? AND state = 'succeeded' ORDER BY run_id DESC LIMIT 1",
                     [.text(step), .text(key)]).first?[0].int
    }

    /// The step's most recent journal entry across runs that has a log (for `flow log STEP`):
    /// runs in which the step was only cached have none. With `run`, that run's entry.
    public func lastEntry(step: String, run: Int64? = nil) throws -> (run: Int64, entry: RunStep)? {
        if let run {
            return try steps(ofRun: run).first { $0.step == step }.map { (run, $0) }
        }
        // Entries found cached have no log: only `run_steps` can hold one.
        let sql = "SELECT run_id FROM run_steps WHERE step = ? AND log != '' ORDER BY run_id DESC LIMIT 1"
        guard let id = try db.query(sql, [.text(step)]).first?[0].int else { return nil }
        guard let entry = try steps(ofRun: id, includingCached: false).first(where: { $0.step == step }) else { return nil }
        return (id, entry)
    }
}

/// A `StepDefinition` as stored in `step_records`, in the `TextRecord` line format.
enum DefinitionCodec {
    static func encode(_ d: StepDefinition) -> String {
        var s = ""
        switch d.action {
        case .shell(let c): s += TextRecord.line(["shell", c])
        case .op(let name, let version, let arguments):
            s += TextRecord.line(["op", name, String(version)])
            for a in arguments { s += TextRecord.line(["arg", a]) }
        }
        for (k, v) in d.environment.sorted(by: { $0.key < $1.key }) { s += TextRecord.line(["env", k, v]) }
        for o in d.outputs { s += TextRecord.line(["out", o]) }
        for (p, h) in d.inputs.sorted(by: { $0.key < $1.key }) { s += TextRecord.line(["in", p, h.hex]) }
        for (k, v) in d.variables.sorted(by: { $0.key < $1.key }) { s += TextRecord.line(["var", k, v]) }
        for (k, h) in d.toolchains.sorted(by: { $0.key < $1.key }) { s += TextRecord.line(["toolchain", k, h.hex]) }
        return s
    }

    static func decode(_ text: String) -> StepDefinition? {
        var action: Action?
        var arguments: [String] = []
        var d = StepDefinition(action: .shell(""), environment: [:], outputs: [], inputs: [:], variables: [:])
        for f in TextRecord.records(text) {
            switch (f.first ?? "", f.count) {
            case ("shell", 2): action = .shell(f[1])
            case ("op", 3): action = .op(name: f[1], version: Int(f[2]) ?? 0, arguments: [])
            case ("arg", 2): arguments.append(f[1])
            case ("env", 3): d.environment[f[1]] = f[2]
            case ("out", 2): d.outputs.append(f[1])
            case ("in", 3): d.inputs[f[1]] = Digest128(hex: f[2])
            case ("var", 3): d.variables[f[1]] = f[2]
            case ("toolchain", 3): d.toolchains[f[1]] = Digest128(hex: f[2])
            default: continue
            }
        }
        guard var a = action else { return nil }
        if case .op(let name, let version, _) = a { a = .op(name: name, version: version, arguments: arguments) }
        d.action = a
        return d
    }
}
