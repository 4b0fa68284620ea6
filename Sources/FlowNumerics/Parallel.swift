// The core's own parallel loops and its seeded random numbers.
import Dispatch
import Foundation

enum Parallel {
    /// Splits 0..<count into at most `Numerics.threads` contiguous ranges and runs `body` on
    /// each, concurrently. Each range is processed by exactly one call, so bodies that write
    /// only to their own rows need no locks. Results never depend on the thread count.
    /// `body` is `@Sendable`: it may read shared inputs, and write through pointers only to
    /// its own range; the pointers it captures say so where they are declared.
    static func forRanges(_ count: Int, minimumPerThread: Int = 256, _ body: @Sendable (Range<Int>) -> Void) {
        let parts = max(1, min(Numerics.threads, count / max(1, minimumPerThread)))
        if parts == 1 {
            if count > 0 { body(0..<count) }
            return
        }
        let step = (count + parts - 1) / parts
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            let lo = p * step, hi = min(count, lo + step)
            if lo < hi { body(lo..<hi) }
        }
    }

    /// Runs `body(worker, part)` once for every part in 0..<parts on up to `Numerics.threads`
    /// workers; each worker takes the next unclaimed part when it finishes one, so a worker
    /// slowed by other load simply does fewer parts. `worker` (0..<workers) lets a body use
    /// scratch memory of its own.
    ///
    /// While the workers run, OpenBLAS is set to 1 thread: each worker makes its own sgemm
    /// calls and then works on their result at once, with no hand-over between BLAS's threads
    /// and the caller's. (A multi-threaded sgemm followed by a parallel pass over its output
    /// left cores idle at every switch.) The BLAS thread count is restored on return.
    /// Bodies must not depend on which worker runs a part: then results never depend on the
    /// thread count. Threading rule: call from one thread, like `Numerics.setThreads`.
    static func forEachPart(_ parts: Int, workers maxWorkers: Int? = nil,
                            _ body: @Sendable (_ worker: Int, _ part: Int) -> Void) {
        let workers = max(1, min(maxWorkers ?? Numerics.threads, Numerics.threads, parts))
        if parts <= 0 { return }
        if workers == 1 {
            // One worker: BLAS keeps its configured threads (1 here unless a caller asked
            // for fewer workers than threads).
            for p in 0..<parts { body(0, p) }
            return
        }
        let previous = BLAS.threads
        BLAS.setThreads(1)
        defer { BLAS.setThreads(previous) }
        let next = PartCounter()
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            while let p = next.claim(below: parts) { body(w, p) }
        }
    }

    /// Workers a `forEachPart` over `parts` parts would use.
    static func workerCount(_ parts: Int) -> Int { max(1, min(Numerics.threads, parts)) }
}

/// The next unclaimed part of a `forEachPart`, handed out under a lock.
// @unchecked: `next` is read and written only while `lock` is held.
private final class PartCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0

    func claim(below limit: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < limit else { return nil }
        next += 1
        return next - 1
    }
}

/// SplitMix64: a small, fast, repeatable generator. The same seed gives the same k-means
/// initialisation and the same sampling on every machine and thread count.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform Double in [0, 1) with 53 random bits.
    mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
}
