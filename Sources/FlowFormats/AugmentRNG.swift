/// The seeded random generator of the augmentations: SplitMix64.
///
/// Its whole state is `state`, a plain `UInt64`: save it with a checkpoint and restore it with
/// `AugmentRNG(state:)` to continue the same stream. The conversions to floats and bounded
/// integers are defined here (not by the standard library), so a seed gives the same crops on
/// every platform and Swift version.
public struct AugmentRNG: RandomNumberGenerator, Equatable, Codable, Sendable {
    public var state: UInt64

    /// A stream for `seed`. Streams for nearby seeds are unrelated (the seed is mixed first).
    public init(seed: UInt64) { state = AugmentRNG.mix(seed ^ 0x6A09_E667_F3BC_C908) }

    /// An independent stream for item `index` of a run seeded with `seed`, e.g. the image
    /// at position `index` of epoch `seed`: the result does not depend on which thread or in
    /// which order images are processed.
    public init(seed: UInt64, index: UInt64) {
        state = AugmentRNG.mix(AugmentRNG.mix(seed ^ 0x6A09_E667_F3BC_C908) &+ AugmentRNG.mix(index &+ 0xBB67_AE85_84CA_A73B))
    }

    /// Resumes a stream from a saved `state`.
    public init(state: UInt64) { self.state = state }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return AugmentRNG.mix(state)
    }

    /// The SplitMix64 finaliser.
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 53 random bits.
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Double, _ hi: Double) -> Double {
        lo + (hi - lo) * uniform()
    }

    /// Uniform integer in 0..<n (n > 0), without modulo bias (Lemire's method).
    public mutating func int(below n: Int) -> Int {
        precondition(n > 0, "AugmentRNG.int(below: \(n))")
        let bound = UInt64(n)
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
        }
        return Int(m.high)
    }

    /// True with probability `p`.
    public mutating func bernoulli(_ p: Double) -> Bool { uniform() < p }

    /// A random permutation of 0..<n (Fisher-Yates).
    public mutating func permutation(_ n: Int) -> [Int] {
        var a = Array(0..<n)
        if n < 2 { return a }
        for i in stride(from: n - 1, to: 0, by: -1) { a.swapAt(i, int(below: i + 1)) }
        return a
    }
}
