import Foundation
import SQLite
import Testing
import FlowTestSupport

@Suite struct SQLiteTests {
    @Test func walAndRoundTrip() throws {
        let dir = TemporaryDirectory()
        let db = try Database(path: dir.path + "/t.db")
        #expect(try db.query("PRAGMA journal_mode=WAL") == [[.text("wal")]])
        try db.execute("CREATE TABLE t(a INTEGER, b TEXT, c BLOB, d REAL)")
        _ = try db.transaction {
            try db.query("INSERT INTO t VALUES (?, ?, ?, ?)", [.integer(42), .text("x"), .blob([1, 2, 3]), .real(0.5)])
        }
        #expect(try db.query("SELECT a, b, c, d FROM t") == [[.integer(42), .text("x"), .blob([1, 2, 3]), .real(0.5)]])
    }

    @Test func failedTransactionRollsBack() throws {
        let dir = TemporaryDirectory()
        let db = try Database(path: dir.path + "/t.db")
        try db.execute("CREATE TABLE t(a INTEGER PRIMARY KEY)")
        #expect(throws: SQLiteError.self) {
            try db.transaction {
                try db.query("INSERT INTO t VALUES (1)")
                try db.query("INSERT INTO t VALUES (1)")
            }
        }
        #expect(try db.query("SELECT count(*) FROM t") == [[.integer(0)]])
    }

    @Test func openingAMissingDirectoryNamesThePath() {
        #expect {
            try Database(path: "/nonexistent-dir/x.db")
        } throws: { error in
            "\(error)".contains("/nonexistent-dir/x.db")
        }
    }
}
