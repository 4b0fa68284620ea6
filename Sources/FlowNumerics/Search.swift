// Exact k-nearest-neighbour search by cosine similarity, blocked over the pool.
//
// Memory stays bounded: the pool is read one block of rows at a time (from a file when it is
// larger than RAM allows), and scores exist only as one [queryChunk, poolBlock] tile.

/// Rows that can be read one block at a time: an in-memory matrix, or a file read piecewise.
public protocol RowSource {
    var rowCount: Int { get }
    var dimension: Int { get }
    /// Rows `range` as a matrix of `range.count` × `dimension`.
    func readRows(_ range: Range<Int>) throws -> Matrix
}

extension Matrix: RowSource {
    public var rowCount: Int { rows }
    public var dimension: Int { cols }
    public func readRows(_ range: Range<Int>) throws -> Matrix { rows(in: range) }
}

/// Exact top-k search by cosine similarity (dot products of L2-normalised rows, through sgemm).
public enum NearestNeighbors {
    /// Queries per score tile and pool rows per block. Tile = 1024 × 4096 floats (16 MiB).
    public static let queryChunk = 1024
    public static let defaultPoolBlock = 4096

    /// The k pool rows most similar to each query, best first, with their cosine similarities.
    ///
    /// Rows are normalised here (queries once, the pool block by block), so callers pass raw
    /// embeddings. Throws for an empty input, mismatched dimensions, NaN or zero rows (naming
    /// the row), or k larger than the pool. `poolBlock` bounds memory: one block of pool rows
    /// plus one score tile are alive at a time.
    public static func search(queries: Matrix, pool: RowSource, k: Int,
                              poolBlock: Int = defaultPoolBlock,
                              progress: ((Int, Int) -> Void)? = nil) throws -> TopK {
        try queries.validate("queries")
        guard pool.rowCount > 0 else { throw NumericsError("pool has no rows: nothing to search") }
        guard pool.dimension == queries.cols else {
            throw NumericsError("queries have dimension \(queries.cols) but the pool has dimension \(pool.dimension)")
        }
        guard k >= 1 else { throw NumericsError("k must be at least 1, got \(k)") }
        guard k <= pool.rowCount else {
            throw NumericsError("k = \(k) is larger than the pool (\(pool.rowCount) rows)")
        }
        let q = try queries.normalizedRows()
        let d = q.cols
        var result = TopK(rows: q.rows, k: k)
        let qChunk = min(queryChunk, q.rows)
        var tile = [Float](repeating: 0, count: qChunk * max(1, poolBlock))
        var start = 0
        while start < pool.rowCount {
            let end = min(pool.rowCount, start + max(1, poolBlock))
            var block = try pool.readRows(start..<end)
            if let bad = block.firstNonFiniteRow() {
                throw NumericsError("pool row \(start + bad) contains NaN or infinity: fix or drop that row")
            }
            do { try block.normalizeRows() } catch let e as NumericsError {
                throw NumericsError(e.message.replacingFirstRowNumber(offset: start, prefix: "pool "))
            }
            let n = block.rows
            var q0 = 0
            while q0 < q.rows {
                let m = min(qChunk, q.rows - q0)
                // tile[m, n] = Q[q0..<q0+m, d] · blockᵀ[d, n]
                gemm(.none, .transpose, m: m, n: n, k: d, q.data, Block(offset: q0 * d, ld: d),
                     block.data, Block(ld: d), &tile, Block(ld: n))
                tile.withUnsafeBufferPointer { t in
                    result.merge(t.baseAddress!, rows: q0..<(q0 + m), n: n, ld: n, baseIndex: start)
                }
                q0 += m
            }
            start = end
            progress?(start, pool.rowCount)
        }
        return result
    }
}

extension String {
    /// "row 12 is all zeros…" → "pool row 1012 is all zeros…" for errors raised inside a block.
    func replacingFirstRowNumber(offset: Int, prefix: String) -> String {
        guard hasPrefix("row "), let space = dropFirst(4).firstIndex(of: " "),
              let n = Int(self[index(startIndex, offsetBy: 4)..<space]) else { return self }
        return prefix + "row \(n + offset)" + self[space...]
    }
}
