// Top-k selection: the k largest scores per row, kept while blocks of scores stream past.

/// For each of `rows` rows, the `k` largest scores seen so far with their column indices,
/// best first. Ties keep the lower index first (indices arrive in increasing order and an
/// equal score never displaces an earlier one), so results are deterministic.
///
/// Unfilled slots (fewer than k candidates seen) hold score `-infinity` and index `-1`.
public struct TopK: Sendable {
    public let rows: Int
    public let k: Int
    /// [rows, k] scores, best first.
    public var scores: [Float]
    /// [rows, k] indices into the scored set, or -1 for an unfilled slot.
    public var indices: [Int]

    public init(rows: Int, k: Int) {
        precondition(rows >= 0 && k >= 1, "TopK: rows \(rows), k \(k)")
        self.rows = rows
        self.k = k
        scores = [Float](repeating: -.infinity, count: rows * k)
        indices = [Int](repeating: -1, count: rows * k)
    }

    /// Row `r`'s (index, score) pairs, best first, without unfilled slots.
    public func row(_ r: Int) -> [(index: Int, score: Float)] {
        (0..<k).compactMap { j in
            let i = indices[r * k + j]
            return i < 0 ? nil : (i, scores[r * k + j])
        }
    }

    /// Offers the scores of a block: `block` is [rowRange.count, n] with row stride `ld`, its
    /// column j holds the score of candidate `baseIndex + j`. Rows are handled in parallel.
    /// Calls must come in increasing `baseIndex` order for the tie rule to hold.
    public mutating func merge(_ block: UnsafePointer<Float>, rows rowRange: Range<Int>, n: Int, ld: Int, baseIndex: Int) {
        let k = self.k
        if rowRange.isEmpty || n == 0 { return }
        scores.withUnsafeMutableBufferPointer { sp in
            indices.withUnsafeMutableBufferPointer { ip in
                // Each range reads its own rows of `block` and writes its own rows' lists.
                nonisolated(unsafe) let s = sp.start, ix = ip.start, block = block
                Parallel.forRanges(rowRange.count, minimumPerThread: 16) { local in
                    for lr in local {
                        let r = rowRange.lowerBound + lr
                        TopK.mergeRow(block + lr * ld, n: n, baseIndex: baseIndex, k: k,
                                      scores: s + r * k, indices: ix + r * k)
                    }
                }
            }
        }
    }

    /// One row: skip 32 scores at a time while none beats the current k-th best.
    /// (NaN scores are impossible: inputs are checked for finite values first.)
    static func mergeRow(_ row: UnsafePointer<Float>, n: Int, baseIndex: Int, k: Int,
                         scores: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int>) {
        var threshold = scores[k - 1]
        var j = 0
        let raw = UnsafeRawPointer(row)
        while j + 32 <= n {
            // The block's largest score. This build targets baseline x86-64 (SSE2), where
            // Swift's scalar `max` is a compare-and-blend chain of about 5 instructions per
            // score, and `any(mask)` is a loop over lanes; `vmax` below compiles to one
            // `maxps` per 4 scores, so the whole test is about 20 instructions per 32 scores.
            @inline(__always) func load(_ t: Int) -> SIMD4<Float> {
                raw.loadUnaligned(fromByteOffset: (j + 4 * t) * 4, as: SIMD4<Float>.self)
            }
            let m = vmax(vmax(vmax(load(0), load(1)), vmax(load(2), load(3))),
                         vmax(vmax(load(4), load(5)), vmax(load(6), load(7))))
            if m[0] > threshold || m[1] > threshold || m[2] > threshold || m[3] > threshold {
                for t in 0..<32 where row[j + t] > threshold {
                    insert(row[j + t], baseIndex + j + t, k: k, scores: scores, indices: indices)
                    threshold = scores[k - 1]
                }
            }
            j += 32
        }
        while j < n {
            if row[j] > threshold {
                insert(row[j], baseIndex + j, k: k, scores: scores, indices: indices)
                threshold = scores[k - 1]
            }
            j += 1
        }
    }

    /// Lane-wise maximum of finite values (a compare and a select, which LLVM turns into `maxps`).
    @inline(__always)
    static func vmax(_ a: SIMD4<Float>, _ b: SIMD4<Float>) -> SIMD4<Float> {
        var r = a
        r.replace(with: b, where: b .> a)
        return r
    }

    /// Inserts into the sorted list after every entry with a score ≥ `score`, dropping the last.
    @inline(__always)
    static func insert(_ score: Float, _ index: Int, k: Int,
                       scores: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int>) {
        var p = k - 1
        while p > 0 && scores[p - 1] < score {
            scores[p] = scores[p - 1]
            indices[p] = indices[p - 1]
            p -= 1
        }
        scores[p] = score
        indices[p] = index
    }
}

/// The k largest entries of every row of `scores`, best first (ties: lower column first).
public func topK(_ scores: Matrix, k: Int) -> TopK {
    var result = TopK(rows: scores.rows, k: k)
    scores.data.withUnsafeBufferPointer { p in
        if let base = p.baseAddress {
            result.merge(base, rows: 0..<scores.rows, n: scores.cols, ld: max(1, scores.cols), baseIndex: 0)
        }
    }
    return result
}
