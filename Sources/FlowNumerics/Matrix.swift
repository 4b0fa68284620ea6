// Row-major float matrices: the one container of the numeric core.

/// A dense row-major matrix of `Float`: element (r, c) is `data[r * cols + c]`.
///
/// Invariant: `data.count == rows * cols`. Initialisers that take user data check it and throw;
/// internal shape mistakes are programmer errors and trap.
public struct Matrix: Equatable, Sendable {
    public var rows: Int
    public var cols: Int
    public var data: [Float]

    /// A rows×cols matrix filled with `value`.
    public init(rows: Int, cols: Int, repeating value: Float = 0) {
        precondition(rows >= 0 && cols >= 0, "Matrix: negative shape \(rows)x\(cols)")
        self.rows = rows
        self.cols = cols
        self.data = [Float](repeating: value, count: rows * cols)
    }

    /// Wraps row-major `data`; throws when its count is not rows·cols.
    public init(rows: Int, cols: Int, data: [Float]) throws {
        guard rows >= 0, cols >= 0, data.count == rows * cols else {
            throw NumericsError("a \(rows)x\(cols) matrix needs \(max(0, rows) * max(0, cols)) values, got \(data.count)")
        }
        self.rows = rows
        self.cols = cols
        self.data = data
    }

    /// A matrix from rows of equal length; throws when they differ.
    public init(_ rowArrays: [[Float]]) throws {
        let cols = rowArrays.first?.count ?? 0
        var data = [Float]()
        data.reserveCapacity(rowArrays.count * cols)
        for (i, row) in rowArrays.enumerated() {
            guard row.count == cols else {
                throw NumericsError("row \(i) has \(row.count) values, row 0 has \(cols)")
            }
            data += row
        }
        try self.init(rows: rowArrays.count, cols: cols, data: data)
    }

    /// Element (r, c).
    public subscript(r: Int, c: Int) -> Float {
        get { data[r * cols + c] }
        set { data[r * cols + c] = newValue }
    }

    /// A copy of row `r`.
    public func row(_ r: Int) -> [Float] {
        Array(data[(r * cols)..<((r + 1) * cols)])
    }

    /// The rows at `indices`, in that order (a gather).
    public func rows(_ indices: [Int]) -> Matrix {
        var out = Matrix(rows: indices.count, cols: cols)
        data.withUnsafeBufferPointer { src in
            out.data.withUnsafeMutableBufferPointer { dst in
                for (o, i) in indices.enumerated() {
                    precondition(i >= 0 && i < rows, "Matrix.rows: index \(i) out of 0..<\(rows)")
                    for c in 0..<cols { dst[o * cols + c] = src[i * cols + c] }
                }
            }
        }
        return out
    }

    /// Rows `range` as a new matrix.
    public func rows(in range: Range<Int>) -> Matrix {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "Matrix.rows(in:): \(range) out of 0..<\(rows)")
        var out = Matrix(rows: range.count, cols: cols)
        out.data = Array(data[(range.lowerBound * cols)..<(range.upperBound * cols)])
        return out
    }

    /// The transpose, cols×rows.
    /// The columns `indices`, in that order.
    public func columns(_ indices: [Int]) -> Matrix {
        var out = Matrix(rows: rows, cols: indices.count)
        for r in 0..<rows {
            for (j, c) in indices.enumerated() { out.data[r * indices.count + j] = data[r * cols + c] }
        }
        return out
    }

    public func transposed() -> Matrix {
        var out = Matrix(rows: cols, cols: rows)
        for r in 0..<rows {
            for c in 0..<cols { out.data[c * rows + r] = data[r * cols + c] }
        }
        return out
    }

    /// The index of the first row holding a NaN or an infinity, or nil when all values are finite.
    public func firstNonFiniteRow() -> Int? {
        data.withUnsafeBufferPointer { p in
            guard let base = p.baseAddress else { return nil }
            let raw = UnsafeRawPointer(base)
            // Blocks of 4096 values: x · 0 is 0 for finite x and NaN for ±infinity and NaN, so a
            // block's sum of x · 0 is 0 exactly when the block is all finite. This vectorises
            // (the per-value `isFinite` test did not: 40 ms for 200,000 × 384 values); only a
            // block that fails is scanned value by value.
            var start = 0
            while start < p.count {
                let end = min(p.count, start + 4096)
                var acc = SIMD4<Float>()
                var i = start
                while i + 4 <= end {
                    acc += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD4<Float>.self) * 0
                    i += 4
                }
                var tail: Float = 0
                while i < end { tail += p[i] * 0; i += 1 }
                if acc.sum() + tail != 0 {
                    for j in start..<end where !p[j].isFinite { return j / max(cols, 1) }
                }
                start = end
            }
            return nil
        }
    }
}

/// A numeric failure caused by the input (shapes, NaN rows, empty arrays, k too large).
/// Ops add the file name; the message says what is wrong and with which row or value.
public struct NumericsError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
