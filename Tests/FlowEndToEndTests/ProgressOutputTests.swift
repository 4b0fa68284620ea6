import Foundation
import FlowTestSupport
import Testing

/// What `flow run` prints: plain timestamped lines when its output is not a terminal (a
/// snapshot, with times replaced), and the live status area on a pseudo-terminal.
@Suite struct ProgressOutputTests {
    static let dag = """
        step a
          out a.txt
          run echo a > {out}
        step b
          in  a.txt
          out b.txt
          run echo "half way" >> "$FLOW_PROGRESS"; cp {in} {out}
        step c
          in  a.txt
          out c.txt
          run echo "no space left" >&2; exit 2
        """

    /// Times and durations replaced by placeholders, the workspace path by $WS.
    static func normalized(_ text: String, workspace: String) -> String {
        var s = text.replacingOccurrences(of: workspace, with: "$WS")
        s = s.replacingOccurrences(of: #"(?m)^\d\d:\d\d:\d\d "#, with: "HH:MM:SS ", options: .regularExpression)
        s = s.replacingOccurrences(of: #"\(\d+\.\d+s\)"#, with: "(T)", options: .regularExpression)
        return s
    }

    @Test func plainOutputWhenNotATerminal() throws {
        let dir = TemporaryDirectory("flow-progress")
        try dir.write("flow.dag", Self.dag)
        // Resolve symlinks in the temporary path, as flow records it.
        let ws = URL(fileURLWithPath: dir.path).resolvingSymlinksInPath().path
        let first = try FlowBinary.run(["run", "-j", "1", "-k"], in: dir.path, environment: ["CI": ""])
        #expect(first.status == 1)
        #expect(Self.normalized(first.stdout, workspace: ws) == """
            HH:MM:SS [1/3] start a (never run)
            HH:MM:SS [1/3] ran a (T)
            HH:MM:SS [2/3] start b (never run)
            HH:MM:SS [2/3] ran b (T)
            HH:MM:SS [3/3] start c (never run)
            HH:MM:SS [3/3] failed c

            """, "\(first)")
        #expect(Self.normalized(first.stderr, workspace: ws) == """
            HH:MM:SS FAILED c: exit status 2
              echo "no space left" >&2; exit 2
              last 1 lines of its log:
              | no space left
              full log: $WS/.flow/logs/1/c.log
            HH:MM:SS flow: run 1 FAILED: 2 ran, 1 failed (T)

            """, "\(first)")
        let second = try FlowBinary.run(["run", "-j", "1", "a", "b"], in: dir.path)
        #expect(second.status == 0)
        #expect(Self.normalized(second.stdout, workspace: ws) == "HH:MM:SS flow: run 2 done: 2 cached (T)\n", "\(second)")
        // The progress line was written where FLOW_PROGRESS pointed.
        #expect(try dir.read(".flow/progress/1/b") == "half way\n")
    }

    @Test func ciMeansPlainLinesEvenOnATerminal() throws {
        let dir = TemporaryDirectory("flow-progress")
        try dir.write("flow.dag", Self.dag)
        let r = try Self.onTerminal(["run", "a"], in: dir.path, environment: ["CI": "true"])
        #expect(!r.contains("\u{1B}["), "\(r.debugDescription)")
        #expect(r.contains("[1/1] ran a"))
    }

    @Test func liveStatusAreaOnATerminal() throws {
        let dir = TemporaryDirectory("flow-progress")
        try dir.write("flow.dag", """
            step slow
              out s.txt
              run echo "epoch 1/2" >> "$FLOW_PROGRESS"; sleep 0.6; echo done > {out}
            """)
        let r = try Self.onTerminal(["run"], in: dir.path, environment: ["CI": "", "NO_COLOR": "1"])
        #expect(r.contains("\u{1B}[2K"), "\(r.debugDescription)")           // lines redrawn in place
        #expect(r.contains("1 running"), "\(r.debugDescription)")
        #expect(r.contains("epoch 1/2"), "\(r.debugDescription)")           // the progress file's last line
        #expect(r.contains("[1/1] ran slow"), "\(r.debugDescription)")      // the permanent line
        #expect(r.contains("flow: run 1 done: 1 ran"), "\(r.debugDescription)")
        #expect(!r.contains("\u{1B}[32m"), "NO_COLOR: \(r.debugDescription)")
        #expect(!r.contains("start slow"))                                  // starts show in the area only
    }

    /// Runs flow under `script`, which gives it a pseudo-terminal, and returns what it wrote there.
    static func onTerminal(_ args: [String], in directory: String, environment: [String: String]) throws -> String {
        let command = ([FlowBinary.path] + args).map { "'\($0)'" }.joined(separator: " ")
        let r = try FlowBinary.runProgram("/usr/bin/script", ["-qec", command, "/dev/null"], in: directory,
                                          environment: environment.merging(["COLUMNS": "80", "TERM": "xterm"]) { a, _ in a })
        return r.stdout
    }
}
