@testable import FlowCore
import FlowTestSupport
import Testing

/// The steps' order: dependencies first, and among the steps that are ready, the one defined
/// first; compared with the definition itself on random graphs, wide ones included.
@Suite struct TopologicalOrderTests {
    /// Steps with the given dependencies (each on earlier steps), their dependents filled in.
    func steps(_ dependencies: [[Int]]) -> [Step] {
        let location = SourceLocation(file: "w.dag", line: 1, column: 1)
        var steps = dependencies.indices.map { i in
            Step(id: StepID(i), name: "s\(i)", baseName: "s\(i)", location: location, action: .shell("true"), inputs: [], outputs: [])
        }
        for (i, deps) in dependencies.enumerated() {
            steps[i].dependencies = deps.sorted().map { StepID($0) }
            for d in deps.sorted() { steps[d].dependents.append(StepID(i)) }
        }
        return steps
    }

    /// The order by its definition: the smallest step whose dependencies are all ordered, each time.
    func reference(_ steps: [Step]) -> [StepID] {
        var done = Set<Int>()
        var order: [StepID] = []
        while order.count < steps.count {
            let next = steps.indices.first { !done.contains($0) && steps[$0].dependencies.allSatisfy { done.contains($0.index) } }!
            done.insert(next)
            order.append(StepID(next))
        }
        return order
    }

    @Test func smallestReadyStepFirst() throws {
        for seed in 0..<100 {
            var rng = SeededGenerator(seed: UInt64(seed))
            let count = Int.random(in: 1..<60, using: &rng)
            // Edges only to later steps, but the ids shuffled so that dependencies come anywhere.
            let ids = (0..<count).shuffled(using: &rng)
            var dependencies = Array(repeating: [Int](), count: count)
            for i in 1..<max(1, count) {
                let n = Int.random(in: 0...min(i, 3), using: &rng)
                dependencies[ids[i]] = Array(Set((0..<n).map { _ in ids[Int.random(in: 0..<i, using: &rng)] }))
            }
            let s = steps(dependencies)
            #expect(try LoaderState.topologicalOrder(s).get() == reference(s), "seed \(seed)")
            // And with the ids in definition order (dependencies always earlier), the fast path.
            let forward = steps((0..<count).map { i in dependencies[ids[i]].map { ids.firstIndex(of: $0)! } })
            #expect(try LoaderState.topologicalOrder(forward).get() == reference(forward), "seed \(seed)")
        }
    }

    /// A dependency on a later step, and a cycle, are not taken for definition order.
    @Test func aLaterDependencyOrACycleLeavesTheFastPath() throws {
        let later = steps([[2], [], []])
        #expect(try LoaderState.topologicalOrder(later).get() == reference(later))
        #expect(try LoaderState.topologicalOrder(later).get().map(\.index) == [1, 2, 0])
        var cyclic = steps([[], [0], [1]])
        cyclic[0].dependencies = [StepID(2)]
        cyclic[2].dependents = [StepID(0)]
        #expect(throws: LoaderState.CycleError.self) { try LoaderState.topologicalOrder(cyclic).get() }
    }

    /// One step read by 20,000: they become ready together, in definition order.
    @Test func aStepReadByManyOthers() throws {
        let s = steps([[]] + Array(repeating: [0], count: 20_000))
        #expect(try LoaderState.topologicalOrder(s).get() == s.indices.map { StepID($0) })
    }
}
