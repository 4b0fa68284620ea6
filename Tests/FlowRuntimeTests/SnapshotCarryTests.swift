import Foundation
import FlowCore
import FlowTestSupport
import Testing
@testable import FlowRuntime

/// What a snapshot carries over from the one before it (`FreshSnapshot.carry`): the snapshot of
/// the same workflow lists the steps in the same order, and positions are then taken without
/// looking steps up by name; a snapshot whose steps are in another order must carry exactly
/// the same entries.
@Suite struct SnapshotCarryTests {
    func workflow(_ n: Int) throws -> (Workflow, TemporaryDirectory) {
        let dir = TemporaryDirectory("flow-carry")
        var text = ""
        for i in 0..<n { text += "step s\(i)\n  in \(i == 0 ? "src" : "o\(i - 1)")\n  out o\(i)\n  run touch {out}\n" }
        try dir.write("flow.dag", text)
        try dir.write("src", "x")
        let context = try RunContext(root: dir.path, cacheDirectory: nil)
        return (try WorkflowLoader(workspace: context.workspace, ops: FakeOps()).load(file: "flow.dag"), dir)
    }

    /// A previous snapshot of `names` (in that order) whose entries each name a few positions.
    func delta(_ names: [String], seed: UInt64) -> FreshSnapshot.Delta {
        var rng = SeededGenerator(seed: seed)
        let steps = names.map { FreshSnapshot.StepInfo(name: $0, lastDuration: 1, outputSize: 1, key: nil, dirty: false) }
        var entries: [(path: String, entry: FreshSnapshot.Entry)] = []
        for p in 0..<60 {
            var e = FreshSnapshot.Entry(stat: FileStat(device: 1, inode: UInt64(p), size: 1, mtimeNs: 1, ctimeNs: 1, mode: 0o100644))
            e.workflow = rng.next() % 7 == 0
            e.workflowKind = rng.next() % 9 == 0
            for _ in 0..<Int(rng.next() % 3) { e.steps.append(Int32(rng.next() % UInt64(names.count))) }
            entries.append(("p\(p)", e))
        }
        return FreshSnapshot.Delta(steps: steps, changed: [], entries: entries)
    }

    func carried(_ previous: FreshSnapshot.Delta, _ wf: Workflow, taken: Set<StepID>, existing: [String: FreshSnapshot.Entry]) -> [String: String] {
        var position = [Int32](repeating: -1, count: wf.steps.count)
        for (i, id) in wf.order.enumerated() { position[id.index] = Int32(i) }
        var entries = existing
        FreshSnapshot.carry(previous, taken: taken, into: &entries, workflow: wf, position: position)
        return entries.mapValues { "\($0.stat?.inode ?? 0) \($0.workflow) \($0.workflowKind) \($0.steps)" }
    }

    @Test func theSameOrderAndAnotherCarryTheSame() throws {
        let (wf, dir) = try workflow(12)
        let inOrder = wf.order.map { wf[$0].name }
        for seed in UInt64(1)...40 {
            var rng = SeededGenerator(seed: seed)
            let taken = Set(wf.order.filter { _ in rng.next() % 3 != 0 })
            // Something this run saw itself for a few paths.
            var existing: [String: FreshSnapshot.Entry] = [:]
            for p in [3, 17, 41] {
                var e = FreshSnapshot.Entry(stat: FileStat(device: 2, inode: 999, size: 2, mtimeNs: 2, ctimeNs: 2, mode: 0o100644))
                e.steps = [Int32(p % 12)]
                existing["p\(p)"] = e
            }
            let same = delta(inOrder, seed: seed)
            // The same snapshot with its steps listed in reverse, positions renumbered to match.
            let reversed = FreshSnapshot.Delta(steps: same.steps.reversed(), changed: [],
                                               entries: same.entries.map { path, e in
                var r = e
                r.steps = e.steps.map { Int32(inOrder.count - 1) - $0 }
                return (path, r)
            })
            let a = carried(same, wf, taken: taken, existing: existing)
            #expect(a == carried(reversed, wf, taken: taken, existing: existing), "seed \(seed)")
            // Something is carried, and not everything: the test sees both kinds.
            #expect(a.count > existing.count && a.count < 60 + existing.count, "seed \(seed)")
        }
        withExtendedLifetime(dir) {}
    }
}
