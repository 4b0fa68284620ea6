import Foundation
import FlowTestSupport
import Testing
@testable import FlowRuntime

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
        // The second page overwritten, the size unchanged.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: db))
        for i in 4096..<min(8192, bytes.count) { bytes[i] = 0xA5 }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: db))
        try handle.write(contentsOf: bytes)
        try handle.close()
        #expect(!StateSeal.holds(database: db))
        do {
            let state = try StateStore(directory: flowDir)
            #expect(state.checkedAtOpen)
        }
        let aside = try FileManager.default.contentsOfDirectory(atPath: flowDir).filter { $0.hasPrefix("state.db.damaged-") }
        #expect(!aside.isEmpty, "the damaged state was opened as sound")
        withExtendedLifetime(dir) {}
    }
}
