import Foundation
import FlowTestSupport
import Testing

/// `flow graph` on a real workspace: states follow `flow status` and the last run's failures.
@Suite struct GraphCommandTests {
    static let dag = """
        step src
          in  in.txt
          out a.txt
          run cp {in} {out}
        step part[i in 0..<3]
          in  a.txt
          out p{i}.txt
          run cp {in} {out}
        step bad
          in  a.txt
          out bad.txt
          run exit 1
        """

    func workspace() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory("flow-graph")
        try dir.write("flow.dag", Self.dag)
        try dir.write("in.txt", "x\n")
        return dir
    }

    @Test func statesInDotAfterARunAndAnEdit() throws {
        let dir = try workspace()
        let before = try FlowBinary.run(["graph"], in: dir.path)
        #expect(before.status == 0, "\(before)")
        #expect(before.stdout.contains(##"n0 [label="src", fillcolor="#ffe0b2", color="#ef6c00", tooltip="stale"];"##), "\(before)")
        _ = try FlowBinary.run(["run", "-k"], in: dir.path)
        let after = try FlowBinary.run(["graph"], in: dir.path)
        #expect(after.stdout.contains(##"n0 [label="src", fillcolor="#c8e6c9", color="#2e7d32", tooltip="fresh"];"##), "\(after)")
        #expect(after.stdout.contains(##"[label="bad", fillcolor="#ffcdd2", color="#c62828", tooltip="failed"];"##), "\(after)")
        #expect(after.stdout.contains("n0 -> n1;\n  n0 -> n2;\n  n0 -> n3;\n  n0 -> n4;"), "\(after)")
        // A removed output makes its step restorable; an edited input makes everything stale.
        try FileManager.default.removeItem(atPath: dir.path + "/p1.txt")
        let mermaid = try FlowBinary.run(["graph", "--format", "mermaid"], in: dir.path)
        #expect(mermaid.stdout.contains("n2[\"part[1]\"]:::restorable"), "\(mermaid)")
        #expect(mermaid.stdout.contains("n1[\"part[0]\"]:::fresh"), "\(mermaid)")
        try dir.write("in.txt", "y\n")
        let edited = try FlowBinary.run(["graph", "--format", "mermaid"], in: dir.path)
        #expect(edited.stdout.contains("n0[\"src\"]:::stale"), "\(edited)")
        #expect(edited.stdout.contains("n4[\"bad\"]:::failed"), "\(edited)")
    }

    @Test func groupingTargetsAndSVG() throws {
        let dir = try workspace()
        let grouped = try FlowBinary.run(["graph", "--group-above", "2", "part"], in: dir.path)
        #expect(grouped.stdout.contains(##"n1 [label="part[×3]\n3 stale""##), "\(grouped)")
        #expect(!grouped.stdout.contains("bad"), "only the named steps and what they need: \(grouped)")
        let svg = try FlowBinary.run(["graph", "--format", "svg", "-o", "g.svg"], in: dir.path)
        #expect(svg.status == 0, "\(svg)")
        let text = try dir.read("g.svg")
        #expect(text.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(text.components(separatedBy: "<rect").count - 1 >= 5)
    }

    @Test func badFormatIsAUsageError() throws {
        let dir = try workspace()
        let r = try FlowBinary.run(["graph", "--format", "png"], in: dir.path)
        #expect(r.status == 64, "\(r)")
        #expect(r.stderr.contains("--format must be dot, mermaid or svg, not 'png'"), "\(r)")
    }
}
