import Dispatch

/// Splits `0..<count` into at most `threads` contiguous chunks and runs `body` on each,
/// concurrently when `threads > 1`. Used for the element-wise kernels (LayerNorm, GELU,
/// softmax) and for attention over (image, head) pairs.
/// `body` is `@Sendable`: it may read shared inputs, and write through pointers only to its
/// own chunk (or its own scratch); the pointers it captures say so where they are declared.
enum Parallel {
    static func chunks(_ count: Int, threads: Int, _ body: @Sendable (Range<Int>) -> Void) {
        indexedChunks(count, threads: threads) { _, range in body(range) }
    }

    /// As `chunks`, also passing the chunk's index in `0..<min(threads, count)` (for per-worker scratch).
    static func indexedChunks(_ count: Int, threads: Int, _ body: @Sendable (Int, Range<Int>) -> Void) {
        let parts = max(1, min(threads, count))
        if parts == 1 {
            body(0, 0..<count)
            return
        }
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            body(part, (count * part / parts)..<(count * (part + 1) / parts))
        }
    }
}

/// An array of `count` floats whose contents the caller will overwrite entirely
/// (skips the zero fill of `Array(repeating:count:)`).
@inline(__always)
func uninitializedFloats(_ count: Int) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
}
