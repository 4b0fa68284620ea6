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

    @Test func aTransactionInsideAnotherIsASavepointOfIt() throws {
        let dir = TemporaryDirectory()
        let db = try Database(path: dir.path + "/t.db")
        try db.execute("CREATE TABLE t(a INTEGER PRIMARY KEY)")
        try db.transaction {
            try db.query("INSERT INTO t VALUES (1)")
            // The inner one fails: only its own writes are undone.
            #expect(throws: SQLiteError.self) {
                try db.transaction {
                    try db.query("INSERT INTO t VALUES (2)")
                    try db.query("INSERT INTO t VALUES (1)")
                }
            }
            try db.transaction { try db.query("INSERT INTO t VALUES (3)") }
        }
        #expect(try db.query("SELECT a FROM t ORDER BY a") == [[.integer(1)], [.integer(3)]])
        // The outer one fails: the inner one's writes, released into it, are undone with it.
        #expect(throws: SQLiteError.self) {
            try db.transaction {
                try db.transaction { try db.query("INSERT INTO t VALUES (4)") }
                try db.query("INSERT INTO t VALUES (1)")
            }
        }
        #expect(try db.query("SELECT a FROM t ORDER BY a") == [[.integer(1)], [.integer(3)]])
    }

    @Test func openingAMissingDirectoryNamesThePath() {
        #expect {
            try Database(path: "/nonexistent-dir/x.db")
        } throws: { error in
            "\(error)".contains("/nonexistent-dir/x.db")
        }
    }
}
