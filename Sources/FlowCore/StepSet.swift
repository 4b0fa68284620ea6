/// A set of the steps of one workflow, as one bit per step id: what a command selects (its
/// targets and everything they need). At a million steps a `Set<StepID>` of all of them cost
/// a hash per insertion and per lookup; here both are a shift and a mask, and the steps come
/// out in id order.
public struct StepSet: Sequence, Equatable, Sendable, ExpressibleByArrayLiteral {
    private var words: [UInt64] = []
    public private(set) var count = 0

    public init() {}

    /// Steps `0..<stepCount`: every step of a workflow of that many.
    public init(all stepCount: Int) {
        let full = stepCount / 64, rest = stepCount % 64
        words = Array(repeating: ~0, count: full)
        if rest > 0 { words.append((1 << UInt64(rest)) - 1) }
        count = stepCount
    }

    public init<S: Sequence>(_ ids: S) where S.Element == StepID {
        for id in ids { insert(id) }
    }

    public init(arrayLiteral ids: StepID...) { self.init(ids) }

    public var isEmpty: Bool { count == 0 }

    public func contains(_ id: StepID) -> Bool {
        let i = id.index
        return i >> 6 < words.count && words[i >> 6] & (1 << UInt64(i & 63)) != 0
    }

    /// Adds `id`; false when it was there already.
    @discardableResult
    public mutating func insert(_ id: StepID) -> Bool {
        let i = id.index
        if i >> 6 >= words.count { words.append(contentsOf: repeatElement(0, count: i >> 6 - words.count + 1)) }
        let bit: UInt64 = 1 << UInt64(i & 63)
        guard words[i >> 6] & bit == 0 else { return false }
        words[i >> 6] |= bit
        count += 1
        return true
    }

    /// Equal when they hold the same steps, however many empty words each has.
    public static func == (a: StepSet, b: StepSet) -> Bool {
        guard a.count == b.count else { return false }
        let common = Swift.min(a.words.count, b.words.count)
        return a.words[..<common] == b.words[..<common]
            && a.words[common...].allSatisfy { $0 == 0 } && b.words[common...].allSatisfy { $0 == 0 }
    }

    public struct Iterator: IteratorProtocol {
        let words: [UInt64]
        var word = 0
        var bits: UInt64

        public mutating func next() -> StepID? {
            while bits == 0 {
                word += 1
                guard word < words.count else { return nil }
                bits = words[word]
            }
            let bit = bits.trailingZeroBitCount
            bits &= bits - 1
            return StepID(word << 6 | bit)
        }
    }

    /// The steps in id order.
    public func makeIterator() -> Iterator { Iterator(words: words, bits: words.first ?? 0) }

    public var underestimatedCount: Int { count }
}
