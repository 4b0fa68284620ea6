import Foundation
import FlowTestSupport
import Testing

/// A fan-out large enough that `flow status` works out its steps' keys beforehand, on every core
/// (more than 8,192 steps), says what a small one says of the same steps: in a new workspace,
/// after some ran, after its command changed, and after a result was restored.
@Suite struct LargeFanOutStatusTests {
    /// The status lines of `s[0]`...`s[5]` and `t`, the columns that do not depend on timing.
    func lines(_ dir: TemporaryDirectory) throws -> [String] {
        let r = try FlowBinary.run(["status", "-a", "--json"], in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let steps = json?["steps"] as? [[String: Any]] ?? []
        let wanted = Set((0...5).map { "s[\($0)]" } + ["t"])
        return steps.compactMap { s in
            guard let name = s["step"] as? String, wanted.contains(name) else { return nil }
            return "\(name) \(s["state"] ?? "-") \((s["reasons"] as? [String] ?? []).joined(separator: "; "))"
        }
    }

    func story(steps n: Int) throws -> [[String]] {
        let dir = TemporaryDirectory("flow-large-status")
        func dag(_ word: String) -> String {
            "step s[i in 0..<\(n)]\n  out o/{i}\n  run echo \(word) {i} > {out}\nstep t\n  in o/3\n  out t.txt\n  run cat {in} > {out}\n"
        }
        try dir.write("flow.dag", dag("a"))
        var seen = [try lines(dir)]
        #expect(try FlowBinary.run(["run", "-q", "s[3]", "s[4]", "t"], in: dir.path).status == 0)
        seen.append(try lines(dir))
        try dir.write("flow.dag", dag("b"))
        seen.append(try lines(dir))
        try dir.write("flow.dag", dag("a"))
        try FileManager.default.removeItem(atPath: dir.path + "/o/4")
        seen.append(try lines(dir))
        return seen
    }

    @Test func saysWhatASmallFanOutSays() throws {
        let small = try story(steps: 8)
        let large = try story(steps: 9000)
        #expect(small.count == 4 && small.allSatisfy { $0.count == 7 })
        for (a, b) in zip(small, large) { #expect(a == b) }
        // The story itself, so that both agreeing on something else would still fail.
        #expect(small[0].contains("s[3] stale never run"))
        #expect(small[1].contains("s[3] fresh ") && small[1].contains("s[5] stale never run"))
        #expect(small[2].contains { $0.hasPrefix("s[3] stale") && $0.contains("command changed") })
        #expect(small[3].contains { $0.hasPrefix("s[4] restorable") }, "\(small[3])")
    }
}
