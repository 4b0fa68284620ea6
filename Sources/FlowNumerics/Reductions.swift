// Row norms, normalisation, column means and input checks.

extension Matrix {
    /// ‖row‖² for every row, accumulated in Float per row ([rows]).
    public func rowSquaredNorms() -> [Float] {
        var out = [Float](repeating: 0, count: rows)
        // No rows: nothing to compute. No columns: every norm is 0 (and `data` is empty).
        if rows == 0 || cols == 0 { return out }
        let cols = self.cols
        data.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                // Each range reads its own rows of `xs` and writes its own entries of `norms`.
                nonisolated(unsafe) let xs = p.start, norms = o.start
                Parallel.forRanges(rows, minimumPerThread: 4096) { range in
                    for r in range {
                        var s: Float = 0
                        let row = xs + r * cols
                        for c in 0..<cols { s += row[c] * row[c] }
                        norms[r] = s
                    }
                }
            }
        }
        return out
    }

    /// ‖row‖ for every row.
    public func rowNorms() -> [Float] { rowSquaredNorms().map { $0.squareRoot() } }

    /// Scales every row to unit L2 norm (for cosine similarity by dot products).
    /// Throws naming the first all-zero row, which has no direction.
    public mutating func normalizeRows() throws {
        let norms = rowNorms()
        if let zero = norms.firstIndex(where: { $0 == 0 }) {
            throw NumericsError("row \(zero) is all zeros: it has no direction for cosine similarity")
        }
        let cols = self.cols
        data.withUnsafeMutableBufferPointer { p in
            for r in 0..<rows {
                let inv = 1 / norms[r]
                for c in 0..<cols { p[r * cols + c] *= inv }
            }
        }
    }

    /// The row-normalised copy (see `normalizeRows`).
    public func normalizedRows() throws -> Matrix {
        var m = self
        try m.normalizeRows()
        return m
    }

    /// Column means accumulated in Double ([cols]).
    public func columnMeans() -> [Double] {
        var sums = [Double](repeating: 0, count: cols)
        for r in 0..<rows {
            for c in 0..<cols { sums[c] += Double(data[r * cols + c]) }
        }
        return sums.map { rows > 0 ? $0 / Double(rows) : 0 }
    }

    /// Checks that the matrix can be clustered or searched: at least one row, at least one
    /// column, only finite values. `what` names the input in the message ("embeddings").
    public func validate(_ what: String) throws {
        guard rows > 0 else { throw NumericsError("\(what) has no rows: nothing to process") }
        guard cols > 0 else { throw NumericsError("\(what) has rows of dimension 0") }
        if let bad = firstNonFiniteRow() {
            throw NumericsError("\(what) row \(bad) contains NaN or infinity: fix or drop that row")
        }
    }
}

/// The sum of `values` in Double.
public func sum(_ values: [Float]) -> Double { values.reduce(0.0) { $0 + Double($1) } }
