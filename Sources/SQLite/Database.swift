import CSQLite3

/// An error from SQLite: the result code (`sqlite3_extended_errcode`) and `sqlite3_errmsg`'s text.
public struct SQLiteError: Error, CustomStringConvertible {
    public var code: Int32
    public var message: String
    /// The database file.
    public var path: String = ""
    public var description: String { "sqlite: \(message) (code \(code))" }

    /// The primary result code (`SQLITE_BUSY`, `SQLITE_FULL`, ...), without the extended bits.
    public var primaryCode: Int32 { code & 0xff }
    public var isBusy: Bool { primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED }
    public var isFull: Bool { primaryCode == SQLITE_FULL }
    /// A read or write failed (`SQLITE_IOERR` and its extended codes): on a full disk, some
    /// writes fail this way, not with `SQLITE_FULL` (growing the WAL index, `SQLITE_IOERR_SHMSIZE`).
    public var isIOError: Bool { primaryCode == SQLITE_IOERR }
    public var isReadOnly: Bool { primaryCode == SQLITE_READONLY || primaryCode == SQLITE_CANTOPEN }
    /// The file is damaged or is not a database at all.
    public var isCorrupt: Bool { primaryCode == SQLITE_CORRUPT || primaryCode == SQLITE_NOTADB }
}

/// A value to bind to, or read from, a statement.
public enum SQLValue: Equatable, Sendable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

// SQLITE_TRANSIENT is a cast macro that Swift does not import: -1 as a destructor means "copy now".
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// Owns one `sqlite3*` connection. Not thread-safe: use one connection per thread.
public final class Database {
    private var handle: OpaquePointer?
    public let path: String
    /// Prepared statements kept by their SQL text: flow runs the same few statements for every
    /// step, and compiling one again each time was most of SQLite's share of a run.
    private var statements: [String: OpaquePointer] = [:]
    private static let statementCacheLimit = 64

    /// Opens (creating if asked) the database at `path`, waiting up to `busyTimeoutMs` for locks.
    public init(path: String, readOnly: Bool = false, busyTimeoutMs: Int32 = 10_000) throws {
        self.path = path
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, nil)
        handle = db
        if rc != SQLITE_OK {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close_v2(db)
            handle = nil
            throw SQLiteError(code: rc, message: "\(message): \(path)", path: path)
        }
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, busyTimeoutMs)
    }

    deinit { close() }

    /// Closes the connection; calling it twice is harmless.
    public func close() {
        for stmt in statements.values { sqlite3_finalize(stmt) }
        statements = [:]
        if let h = handle {
            sqlite3_close_v2(h)
            handle = nil
        }
    }

    /// True once SQLite has said that the file is damaged, in any statement of this connection.
    public private(set) var sawDamage = false

    /// The error for `rc`, noting damage.
    private func failure(_ rc: Int32, _ message: String) -> SQLiteError {
        let error = SQLiteError(code: rc, message: message, path: path)
        if error.isCorrupt { sawDamage = true }
        return error
    }

    func check(_ rc: Int32) throws {
        if rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE {
            throw failure(rc, String(cString: sqlite3_errmsg(handle)))
        }
    }

    /// Runs one or more statements that take no parameters and return no rows we want.
    public func execute(_ sql: String) throws {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            let message = err.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(err)
            throw failure(rc, message)
        }
    }

    public func prepare(_ sql: String) throws -> Statement {
        var stmt: OpaquePointer?
        try check(sqlite3_prepare_v2(handle, sql, -1, &stmt, nil))
        guard let stmt else { throw SQLiteError(code: SQLITE_MISUSE, message: "no statement in: \(sql)", path: path) }
        return Statement(db: self, handle: stmt)
    }

    /// Runs `sql` with `bindings` and returns every row. The statement is compiled once per
    /// connection (up to `statementCacheLimit` texts) and reset after use, so that it holds no
    /// read transaction open between calls.
    @discardableResult
    public func query(_ sql: String, _ bindings: [SQLValue] = []) throws -> [[SQLValue]] {
        let stmt: Statement
        if let cached = statements[sql] {
            stmt = Statement(db: self, handle: cached, owned: false)
        } else {
            stmt = try prepare(sql)
            if statements.count < Database.statementCacheLimit {
                statements[sql] = stmt.handle
                stmt.owned = false
            }
        }
        defer { sqlite3_reset(stmt.handle) }
        try stmt.bind(bindings)
        var rows: [[SQLValue]] = []
        while try stmt.step() { rows.append(stmt.row()) }
        return rows
    }

    /// Runs `body` inside `BEGIN IMMEDIATE ... COMMIT`, rolling back if it throws. Inside another
    /// transaction it is a savepoint of that one: its writes are undone alone if it throws, and
    /// committed with the outer transaction.
    @discardableResult
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        let nested = sqlite3_get_autocommit(handle) == 0
        try query(nested ? "SAVEPOINT nested" : "BEGIN IMMEDIATE")
        do {
            let result = try body()
            try query(nested ? "RELEASE nested" : "COMMIT")
            return result
        } catch {
            if nested { _ = try? query("ROLLBACK TO nested") }
            _ = try? query(nested ? "RELEASE nested" : "ROLLBACK")
            throw error
        }
    }

    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Leaves the write-ahead log as it is when this connection closes, instead of copying it
    /// into the database (two fsyncs): for a short write whose durability does not matter, the
    /// next connection that checkpoints takes it over.
    public func skipCheckpointOnClose() {
        _ = flow_sqlite_checkpoint_on_close(handle, 0)
    }
    public var changes: Int { Int(sqlite3_changes(handle)) }
}

/// One `sqlite3_stmt*`; finalized on deinit when it is not one the connection keeps.
public final class Statement {
    private let db: Database
    let handle: OpaquePointer
    /// False for a statement the connection keeps (and finalizes when it closes).
    var owned: Bool

    init(db: Database, handle: OpaquePointer, owned: Bool = true) {
        self.db = db
        self.handle = handle
        self.owned = owned
    }

    deinit { if owned { sqlite3_finalize(handle) } }

    public func bind(_ values: [SQLValue]) throws {
        try db.check(sqlite3_reset(handle))
        try db.check(sqlite3_clear_bindings(handle))
        for (i, v) in values.enumerated() {
            let index = Int32(i + 1)
            switch v {
            case .null: try db.check(sqlite3_bind_null(handle, index))
            case .integer(let x): try db.check(sqlite3_bind_int64(handle, index, x))
            case .real(let x): try db.check(sqlite3_bind_double(handle, index, x))
            case .text(let s): try db.check(sqlite3_bind_text(handle, index, s, -1, transient))
            case .blob(let b):
                try b.withUnsafeBytes { try db.check(sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), transient)) }
            }
        }
    }

    /// Advances to the next row: true while there is one.
    public func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        try db.check(rc)
        return rc == SQLITE_ROW
    }

    public func row() -> [SQLValue] {
        (0..<sqlite3_column_count(handle)).map { column($0) }
    }

    public func column(_ i: Int32) -> SQLValue {
        switch sqlite3_column_type(handle, i) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(handle, i))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(handle, i))
        case SQLITE_TEXT: return .text(String(cString: sqlite3_column_text(handle, i)))
        case SQLITE_BLOB:
            let n = Int(sqlite3_column_bytes(handle, i))
            guard n > 0, let p = sqlite3_column_blob(handle, i) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: p, count: n)))
        default: return .null
        }
    }
}

extension SQLValue {
    public var int: Int64? { if case .integer(let v) = self { return v }; return nil }
    public var double: Double? {
        switch self {
        case .real(let v): return v
        case .integer(let v): return Double(v)
        default: return nil
        }
    }
    public var string: String? { if case .text(let v) = self { return v }; return nil }
    public var bytes: [UInt8]? { if case .blob(let v) = self { return v }; return nil }
}
