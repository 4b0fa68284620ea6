// The core's own parallel loops and its seeded random numbers.
import Dispatch

enum Parallel {
    /// Splits 0..<count into at most `Numerics.threads` contiguous ranges and runs `body` on
    /// each, concurrently. Each range is processed by exactly one call, so bodies that write
    /// only to their own rows need no locks. Results never depend on the thread count.
    static func forRanges(_ count: Int, minimumPerThread: Int = 256, _ body: (Range<Int>) -> Void) {
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
