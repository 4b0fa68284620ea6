import Foundation
import FlowTestSupport
import Testing
@testable import FlowRuntime
import XXHash

/// The state database is checked when it is opened unless its files are exactly as flow sealed
/// them at its last close (`StateSeal`): a sealed one skips the check, and anything that wrote
/// the files since (another connection, a crash before the close, a change behind flow's back)
/// means a check again.
@Suite struct StateSealTests {
    func directory() -> (TemporaryDirectory, String) {
        let dir = TemporaryDirectory("flow-seal")
        return (dir, dir.path + "/.flow")
    }

    func run(in state: StateStore) throws {
        _ = try state.beginRun(command: "flow run", dag: "flow.dag", variables: [:])
    }

    /// Overwrites 4 KiB of the database at `offset` in place (same file, same size).
    func damage(_ db: String, at offset: (Int) -> Int) throws {
        var bytes = try Data(contentsOf: URL(fileURLWithPath: db))
        let start = offset(bytes.count)
        for i in start..<min(start + 4096, bytes.count) { bytes[i] = 0xA5 }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: db))
        try handle.write(contentsOf: bytes)
        try handle.close()
    }

    func movedAside(_ flowDir: String) throws -> Bool {
        try FileManager.default.contentsOfDirectory(atPath: flowDir).contains { $0.hasPrefix("state.db.damaged-") }
    }

    @Test func aStateClosedWholeOpensWithoutTheCheck() throws {
        let (dir, flowDir) = directory()
        do {
            let first = try StateStore(directory: flowDir)
            #expect(first.checkedAtOpen)
            try run(in: first)
        }
        #expect(StateSeal.holds(database: flowDir + "/state.db"))
        do {
            let second = try StateStore(directory: flowDir)
            #expect(!second.checkedAtOpen)
            try run(in: second)
        }
        // Read-only: no check when sealed, and no new seal written.
        let seal = try String(contentsOfFile: flowDir + "/state.db.seal", encoding: .utf8)
        do { #expect(!(try StateStore(directory: flowDir, readOnly: true)).checkedAtOpen) }
        #expect(try String(contentsOfFile: flowDir + "/state.db.seal", encoding: .utf8) == seal)
        withExtendedLifetime(dir) {}
    }

    @Test func aWriteBySomeoneElseMeansACheck() throws {
        let (dir, flowDir) = directory()
        do { try run(in: try StateStore(directory: flowDir)) }
        // A no-op run's journal entry: written without a check, so it seals nothing.
        do { _ = try StateStore(unchecked: flowDir).recordNoopRun(command: "flow run", dag: "flow.dag", variables: [:], started: Date(), summary: "") }
        #expect(!StateSeal.holds(database: flowDir + "/state.db"))
        do { #expect(try StateStore(directory: flowDir).checkedAtOpen) }
        // A store still open (another flow, or one that will be killed) while the next opens.
        let open = try StateStore(directory: flowDir)
        #expect(!open.checkedAtOpen)
        try run(in: open)
        do { #expect(try StateStore(directory: flowDir).checkedAtOpen) }
        withExtendedLifetime((dir, open)) {}
    }

    @Test func aDatabaseDamagedBehindFlowsBackIsCheckedAndMovedAside() throws {
        let (dir, flowDir) = directory()
        let db = flowDir + "/state.db"
        do {
            let state = try StateStore(directory: flowDir)
            for i in 0..<200 { try run(in: state); _ = i }
        }
        #expect(StateSeal.holds(database: db))
        try damage(db) { _ in 4096 }   // the second page
        #expect(!StateSeal.holds(database: db))
        do { #expect(try StateStore(directory: flowDir).checkedAtOpen) }
        #expect(try movedAside(flowDir), "the damaged state was opened as sound")
        withExtendedLifetime(dir) {}
    }

    /// Damage that the seal cannot see (it matches, as after a lost write, or damage done while
    /// another flow had the file open): SQLite reports it when it reads the page, that store
    /// leaves no seal, and the next open checks and moves the database aside.
    @Test func damageFoundDuringASessionMeansACheckAtTheNextOpen() throws {
        let (dir, flowDir) = directory()
        let db = flowDir + "/state.db"
        do {
            let state = try StateStore(directory: flowDir)
            let record = StateStore.StepRecord(key: Digest128(high: 1, low: 2), definitionText: String(repeating: "d", count: 300),
                                               duration: 1, outputSize: 1, finishedAt: Date(), runID: 1)
            try state.batch { for i in 0..<2000 { try state.saveRecord(step: "s\(i)", record) } }
        }
        try damage(db) { $0 / 2 }
        StateSeal.record(database: db)   // as if the damage had not changed what stat sees
        do {
            let state = try StateStore(directory: flowDir)
            #expect(!state.checkedAtOpen)
            #expect(throws: (any Error).self) { _ = try state.allRecords() }
        }
        #expect(!StateSeal.holds(database: db))
        do { #expect(try StateStore(directory: flowDir).checkedAtOpen) }
        #expect(try movedAside(flowDir), "the damaged state was kept")
        withExtendedLifetime(dir) {}
    }

    /// A store seals only the file it opened: one put in its place meanwhile is checked next time.
    @Test func aFileSwappedInWhileOpenIsNotSealed() throws {
        let (dir, flowDir) = directory()
        let db = flowDir + "/state.db"
        do { try run(in: try StateStore(directory: flowDir)) }
        try FileManager.default.copyItem(atPath: db, toPath: db + ".copy")
        do {
            let state = try StateStore(directory: flowDir)
            try run(in: state)
            #expect(rename(db + ".copy", db) == 0)
        }
        #expect(!StateSeal.holds(database: db))
        do { #expect(try StateStore(directory: flowDir).checkedAtOpen) }
        withExtendedLifetime(dir) {}
    }

    /// `close()` seals at once (a command that leaves the store's holders to the exit calls it),
    /// and the store's end afterwards neither seals again nor touches the files.
    @Test func closingEarlySealsOnceAndTheEndDoesNothingMore() throws {
        let (dir, flowDir) = directory()
        let db = flowDir + "/state.db"
        do {
            let state = try StateStore(directory: flowDir)
            try run(in: state)
            state.close()
            #expect(StateSeal.holds(database: db))
            // Someone else writes after the close: the store's end must not seal over it.
            _ = try StateStore(unchecked: flowDir).recordNoopRun(command: "flow run", dag: "flow.dag", variables: [:],
                                                               started: Date(), summary: "")
            #expect(!StateSeal.holds(database: db))
            state.close()
        }
        #expect(!StateSeal.holds(database: db))
        do { #expect(try StateStore(directory: flowDir).checkedAtOpen) }
        withExtendedLifetime(dir) {}
    }

    /// `flow run` leaves the bulk of what it loaded to the process's exit but closes the state
    /// first: the files are sealed after a run that built something and after one that rebuilt.
    @Test func aRunSealsTheStateBeforeItsExit() throws {
        let dir = TemporaryDirectory("flow-seal-run")
        let db = dir.path + "/.flow/state.db"
        func dag(_ b: String) -> String { "step a\n  out a.txt\n  run echo a > {out}\nstep b\n  in a.txt\n  out b.txt\n  run \(b) > {out}\n" }
        try dir.write("flow.dag", dag("cat a.txt"))
        let first = try FlowBinary.run(["run", "-q"], in: dir.path)
        #expect(first.status == 0, "\(first)")
        #expect(StateSeal.holds(database: db))
        try dir.write("flow.dag", dag("cat a.txt a.txt"))
        let second = try FlowBinary.run(["run", "-q"], in: dir.path)
        #expect(second.status == 0 && second.stdout.contains("1 ran"), "\(second)")
        #expect(StateSeal.holds(database: db))
        do { #expect(!(try StateStore(directory: dir.path + "/.flow")).checkedAtOpen) }
    }

    /// A `flow status` that evaluates (an input changed) leaves its bulk to the exit too, and
    /// closes the state first: sealed, its log folded in.
    @Test func statusLeavesTheStateSealed() throws {
        let dir = TemporaryDirectory("flow-seal-status")
        let db = dir.path + "/.flow/state.db"
        try dir.write("flow.dag", "step a\n  in src.txt\n  out a.txt\n  run cat src.txt > {out}\n")
        try dir.write("src.txt", "1")
        let run = try FlowBinary.run(["run", "-q"], in: dir.path)
        #expect(run.status == 0, "\(run)")
        try dir.write("src.txt", "22")
        let status = try FlowBinary.run(["status"], in: dir.path)
        #expect(status.status == 0 && status.stdout.contains("stale"), "\(status)")
        #expect(StateSeal.holds(database: db), "flow status left no seal")
        #expect(!FileManager.default.fileExists(atPath: db + "-wal"), "flow status left its log")
    }
}
