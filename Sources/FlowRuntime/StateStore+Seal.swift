import Foundation

/// What the state database's files were when flow last closed them after finding them sound:
/// each one's device, inode, size, modification and change time (`.flow/state.db.seal`).
///
/// Opening the state ran SQLite's `quick_check`, which reads the whole database: the journal
/// grows with every run (10,000 rows for a run of 10,000 steps), so every run paid for all
/// earlier ones (25 ms after 8 runs of 10,000 steps, and on). An open that finds the files as
/// they were sealed skips the check: nothing has written them since flow last saw them whole
/// (the change time cannot be set back by anyone). Any other open checks, as before: after a
/// crash (a store that may write removes the seal when it opens), after another process wrote
/// them (a second flow, a no-op run's journal entry in the WAL), or after anything else touched
/// them. Damage done while a store has them open is found when SQLite reads it; that store then
/// leaves no seal (`StateStore.close`).
enum StateSeal {
    static func path(database: String) -> String { database + ".seal" }

    /// The files' identity and times, one line; the WAL's "-" when there is none.
    static func current(database: String) -> String? {
        guard let db = FileStat.of(database, followLinks: false), db.isRegular else { return nil }
        func describe(_ s: FileStat) -> String { "\(s.device) \(s.inode) \(s.size) \(s.mtimeNs) \(s.ctimeNs)" }
        let wal = FileStat.of(database + "-wal", followLinks: false).map(describe) ?? "-"
        return "flow-state-seal v1 " + describe(db) + " wal " + wal + "\n"
    }

    /// True when the files are exactly as sealed.
    static func holds(database: String) -> Bool {
        guard let now = current(database: database),
              let sealed = try? FileIO.readAll(path(database: database), sizeHint: 256) else { return false }
        return sealed.elementsEqual(now.utf8)
    }

    /// Seals the files as they are now (best effort: without a seal the next open checks).
    static func record(database: String) {
        guard let now = current(database: database) else { return }
        try? AtomicFile.write(Array(now.utf8), to: path(database: database))
    }

    static func remove(database: String) { unlink(path(database: database)) }
}
