// Exact k-nearest-neighbour search by cosine similarity, blocked over the pool.
//
// Memory stays bounded: the pool is read one block of rows at a time (from a file when it is
// larger than RAM allows), and scores exist only as one [queryChunk, tileCols] tile per worker
// thread. Workers take query chunks in turn; each runs its own single-threaded sgemm and then
// merges its rows' top-k lists (see Parallel.forEachPart).

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

/// Exact top-k search by cosine similarity of L2-normalised rows, through sgemm.
///
/// Similarities are computed as 1 − ½‖q − p‖² with q and p normalised in Double and shifted
/// by a point near the normalised queries (`KMeans.shift(for:)`), then rounded to Float, not
/// as the plain dot product q·p: on embeddings
/// that all point nearly the same way (a large common offset, tiny spread) every dot product
/// rounds to 1 in Float and the ranking is noise, while the shifted distances keep their
/// digits. Ranking uses cos − 1 (exact near 0); 1 is added to the reported scores at the end.
public enum NearestNeighbors {
    /// Queries per score tile and pool rows per block. Tile = 1024 × 4096 floats (16 MiB) per thread.
    public static let queryChunk = 1024
    /// Pool rows per score tile (a larger `poolBlock` is scored in slices of this width), so a
    /// tile is at most 1024 × 4096 floats whatever the block. Smaller tiles (128-512 queries by
    /// 512-1024 rows) measured no faster: sgemm repacks its operands more often.
    static let tileCols = 4096
    public static let defaultPoolBlock = 4096

    /// The k pool rows most similar to each query, best first, with their cosine similarities.
    ///
    /// Rows are normalised here (queries once, the pool block by block), so callers pass raw
    /// embeddings. Throws for an empty input, mismatched dimensions, NaN or zero rows (naming
    /// the row), or k larger than the pool. `poolBlock` bounds memory: one block of pool rows
    /// plus one score tile per thread are alive at a time. Results are the same for any
    /// thread count.
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
        let centre = KMeans.shift(for: try queries.normalizedRows())
        var q = queries
        try q.normalizeAndShiftRows(centre)
        let d = q.cols
        let qNorms = q.rowSquaredNorms()
        var result = TopK(rows: q.rows, k: k)
        let qChunk = min(queryChunk, q.rows)
        let chunks = (q.rows + qChunk - 1) / qChunk
        let workers = Parallel.workerCount(chunks)
        // One [qChunk, poolBlock] score tile per worker.
        let tileCols = min(Self.tileCols, max(1, poolBlock))
        let tileSize = qChunk * tileCols
        var tiles = [Float](repeating: 0, count: workers * tileSize)
        var start = 0
        while start < pool.rowCount {
            let end = min(pool.rowCount, start + max(1, poolBlock))
            var block = try pool.readRows(start..<end)
            if let bad = block.firstNonFiniteRow() {
                throw NumericsError("pool row \(start + bad) contains NaN or infinity: fix or drop that row")
            }
            do { try block.normalizeAndShiftRows(centre) } catch let e as NumericsError {
                throw NumericsError(e.message.replacingFirstRowNumber(offset: start, prefix: "pool "))
            }
            let bNorms = block.rowSquaredNorms()
            let n = block.rows, blockStart = start, queryRows = q.rows
            // Each worker scores a chunk of queries against the block (its own sgemm), then
            // merges those rows into their top-k lists: rows are independent, so no two
            // workers touch the same list, and the result does not depend on the thread count.
            q.data.withUnsafeBufferPointer { qp in
                block.data.withUnsafeBufferPointer { bp in
                    tiles.withUnsafeMutableBufferPointer { tp in
                        result.scores.withUnsafeMutableBufferPointer { sp in
                            result.indices.withUnsafeMutableBufferPointer { ip in
                                // Parts read the queries and the block, use the score tile of the
                                // worker running them, and merge into their own queries' lists.
                                nonisolated(unsafe) let qb = qp.start, bb = bp.start, tb = tp.start
                                nonisolated(unsafe) let s = sp.start, ix = ip.start
                                Parallel.forEachPart(chunks) { worker, c in
                                    let q0 = c * qChunk, m = min(qChunk, queryRows - q0)
                                    let tile = tb + worker * tileSize
                                    var j0 = 0
                                    while j0 < n {
                                        let w = min(tileCols, n - j0)
                                        // tile[m, w] = Q'[q0..<q0+m, d] · block'[j0..<j0+w, d]ᵀ, then
                                        // cos − 1 = q'·p' − ½(‖q'‖² + ‖p'‖²)
                                        BLAS.sgemm(.none, .transpose, m: m, n: w, k: d, a: qb + q0 * d, lda: d,
                                                   b: bb + j0 * d, ldb: d, c: tile, ldc: w)
                                        for r in 0..<m {
                                            let qh = 0.5 * qNorms[q0 + r], row = tile + r * w
                                            for j in 0..<w { row[j] -= qh + 0.5 * bNorms[j0 + j] }
                                        }
                                        for r in 0..<m {
                                            TopK.mergeRow(tile + r * w, n: w, baseIndex: blockStart + j0, k: k,
                                                          scores: s + (q0 + r) * k, indices: ix + (q0 + r) * k)
                                        }
                                        j0 += w
                                    }
                                }
                            }
                        }
                    }
                }
            }
            start = end
            progress?(start, pool.rowCount)
        }
        for i in result.scores.indices { result.scores[i] += 1 }
        return result
    }
}

extension Matrix {
    /// Replaces every row x by x/‖x‖ − `centre`, computed in Double and rounded once, so the
    /// small differences between nearly parallel rows survive. Throws naming the first all-zero
    /// row, as `normalizeRows` does.
    mutating func normalizeAndShiftRows(_ centre: [Float]) throws {
        precondition(centre.count == cols, "normalizeAndShiftRows: \(centre.count) values for \(cols) columns")
        let cols = self.cols, rows = self.rows
        var norms = [Double](repeating: 0, count: rows)
        data.withUnsafeBufferPointer { p in
            for r in 0..<rows {
                var s = 0.0
                for c in 0..<cols { let v = Double(p[r * cols + c]); s += v * v }
                norms[r] = s.squareRoot()
            }
        }
        if let zero = norms.firstIndex(where: { $0 == 0 }) {
            throw NumericsError("row \(zero) is all zeros: it has no direction for cosine similarity")
        }
        let shift = centre.map(Double.init)
        data.withUnsafeMutableBufferPointer { p in
            for r in 0..<rows {
                let inv = 1 / norms[r]
                for c in 0..<cols { p[r * cols + c] = Float(Double(p[r * cols + c]) * inv - shift[c]) }
            }
        }
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
