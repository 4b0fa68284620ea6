import FlowCore
import FlowTestSupport
import Testing

/// `StepSet` against `Set<StepID>`, the type it replaces where a command selects steps.
@Suite struct StepSetTests {
    static func id(_ i: Int) -> StepID { StepID(rawValue: Int32(i)) }

    @Test(arguments: 0..<20)
    func behavesAsASetOfStepIDs(_ seed: Int) {
        var rng = SeededGenerator(seed: UInt64(seed))
        let span = [1, 63, 64, 65, 200, 4097][seed % 6]
        var bits = StepSet(), plain = Set<StepID>()
        for _ in 0..<300 {
            let id = Self.id(Int.random(in: 0..<span, using: &rng))
            #expect(bits.insert(id) == plain.insert(id).inserted)
            #expect(bits.count == plain.count)
        }
        for i in 0..<(span + 70) { #expect(bits.contains(Self.id(i)) == plain.contains(Self.id(i)), "\(i)") }
        #expect(Array(bits) == plain.sorted())
        #expect(StepSet(plain) == bits)
        #expect(bits.isEmpty == plain.isEmpty)
    }

    @Test(arguments: [0, 1, 63, 64, 65, 128, 1000])
    func allHoldsEveryStepAndNoOther(_ n: Int) {
        let all = StepSet(all: n)
        #expect(all.count == n)
        #expect(Array(all) == (0..<n).map(Self.id))
        #expect(!all.contains(Self.id(n)) && !all.contains(Self.id(n + 64)))
        #expect(all == StepSet((0..<n).map(Self.id)))
    }

    @Test func equalityIsByContent() {
        var wide = StepSet()
        wide.insert(Self.id(500))
        var narrow: StepSet = [Self.id(3)]
        #expect(wide != narrow)
        narrow.insert(Self.id(500))
        wide.insert(Self.id(3))
        #expect(wide == narrow)
        #expect(StepSet() == StepSet(all: 0))
        #expect(StepSet() != [Self.id(0)])
    }
}
