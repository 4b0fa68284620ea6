import Foundation
@testable import FlowCore
import FlowTestSupport
import Testing
@testable import FlowRuntime

/// The live terminal display, driven with a fake clock, a fixed width and captured output.
@Suite struct TerminalReporterTests {
    final class Screen: @unchecked Sendable {
        var out = ""
        var err = ""
        var now = Date(timeIntervalSince1970: 1000)
    }

    func reporter(_ screen: Screen, width: Int = 60, verbose: Bool = false) -> TerminalReporter {
        TerminalReporter(verbose: verbose, color: false, write: { fd, text in if fd == 1 { screen.out += text } else { screen.err += text } },
                         columns: { width }, clock: { screen.now })
    }

    func step(_ name: String) -> Step {
        Step(id: StepID(rawValue: 0), name: name, baseName: name, location: SourceLocation(file: "flow.dag", line: 1, column: 1),
             action: .shell("true"), inputs: [], outputs: [])
    }

    /// What a terminal would show: the text with the cursor moves applied, line by line.
    static func screenLines(_ text: String) -> [String] {
        var lines: [String] = [""]
        var row = 0
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if c == "\u{1B}" {
                var j = text.index(i, offsetBy: 2)
                var number = ""
                while text[j].isNumber { number.append(text[j]); j = text.index(after: j) }
                switch text[j] {
                case "A": row = max(0, row - (Int(number) ?? 1))
                case "K": lines[row] = ""
                case "J": lines.removeSubrange((row + 1)...); lines[row] = ""
                default: break
                }
                i = text.index(after: j)
                continue
            }
            if c == "\n" {
                row += 1
                if row == lines.count { lines.append("") }
            } else if c == "\r" {
                // Column 0; lines here are always rewritten whole after a clear.
            } else {
                lines[row].append(c)
            }
            i = text.index(after: i)
        }
        return lines
    }

    @Test func finishedStepsScrollAboveALiveStatusArea() throws {
        let dir = TemporaryDirectory("flow-term")
        let screen = Screen()
        let r = reporter(screen)
        r.begin(total: 3, runID: 1, dryRun: false)
        r.stepSettled(step("pool"), outcome: .cached, note: "")
        r.stepStarted(step("embed[0]"), reasons: [.neverRun], attempt: 1)
        try dir.write("p", "loading\nepoch 1/3 loss 2.5\n")
        screen.now += 7
        r.tick([RunningStep(name: "embed[0]", started: Date(timeIntervalSince1970: 1000), attempt: 1, progressPath: dir.path + "/p", handle: "1")],
               summary: RunSummary(runID: 1))
        #expect(Self.screenLines(screen.out) == ["[1/3] 1 cached, 1 running · 7s", "  embed[0]      7s  epoch 1/3 loss 2.5", ""])
        screen.now += 2
        r.stepSettled(step("embed[0]"), outcome: .ran, note: "9.0s")
        #expect(Self.screenLines(screen.out) == ["[2/3] ran embed[0] (9.0s)", "[2/3] 1 ran, 1 cached, 0 running · 9s", ""])
        var summary = RunSummary(runID: 1)
        summary.duration = 9
        r.end(summary, workflow: Workflow(steps: [], order: [], variables: [:], files: []))
        #expect(Self.screenLines(screen.out) == ["[2/3] ran embed[0] (9.0s)", "flow: run 1 done: nothing to do (9.00s)", ""])
    }

    @Test func linesAreCutToTheTerminalWidth() throws {
        let dir = TemporaryDirectory("flow-term")
        let screen = Screen()
        let r = reporter(screen, width: 40)
        r.begin(total: 2, runID: 1, dryRun: false)
        r.stepStarted(step("a-step-with-a-long-name"), reasons: [], attempt: 1)
        try dir.write("p", String(repeating: "x", count: 200) + "\n")
        screen.now += 0.5
        r.tick([RunningStep(name: "a-step-with-a-long-name", started: screen.now, attempt: 1, progressPath: dir.path + "/p", handle: "1")],
               summary: RunSummary(runID: 1))
        let lines = Self.screenLines(screen.out)
        #expect(lines.allSatisfy { $0.count <= 39 }, "\(lines)")
        #expect(lines[1].hasSuffix("…"))
    }

    @Test func redrawsAtMostTenTimesASecondAndOnlyWhenChanged() {
        let screen = Screen()
        let r = reporter(screen)
        r.begin(total: 2, runID: 1, dryRun: false)
        r.stepStarted(step("a"), reasons: [], attempt: 1)
        let running = [RunningStep(name: "a", started: screen.now, attempt: 1, progressPath: "/nonexistent", handle: "1")]
        let before = screen.out.count
        for _ in 0..<5 {
            screen.now += 0.01
            r.tick(running, summary: RunSummary(runID: 1))
        }
        #expect(screen.out.count == before)   // within 100 ms, and nothing changed
        screen.now += 0.5
        r.tick(running, summary: RunSummary(runID: 1))
        #expect(screen.out.count == before)   // later, but the text is the same (still 0s)
        screen.now += 1
        r.tick(running, summary: RunSummary(runID: 1))
        #expect(screen.out.count > before)    // the elapsed time changed
    }

    @Test func failuresGoToStderrWithTheAreaCleared() {
        let screen = Screen()
        let r = reporter(screen)
        r.begin(total: 1, runID: 1, dryRun: false)
        r.stepStarted(step("a"), reasons: [], attempt: 1)
        r.stepFailed(step("a"), message: "exit status 2", logTail: ["boom"], logPath: "/x.log")
        #expect(screen.err == "FAILED a: exit status 2\n  true\n  last 1 lines of its log:\n  | boom\n  full log: /x.log\n")
        #expect(screen.out.contains("\u{1B}[J"))
    }

    @Test func progressTailTakesTheLastLineWithoutControlCharacters() {
        #expect(ProgressTail.lastLine(of: Array("a\nb\n\n".utf8)) == "b")
        #expect(ProgressTail.lastLine(of: Array("10%\r50%\r90%".utf8)) == "90%")
        #expect(ProgressTail.lastLine(of: Array("red \u{1B}[31mtext\u{1B}[0m\n".utf8)) == "red [31mtext[0m")
        #expect(ProgressTail.lastLine(of: []) == "")
    }

    @Test func progressTailRereadsOnlyWhenTheFileChanges() throws {
        let dir = TemporaryDirectory("flow-term")
        let tail = ProgressTail()
        #expect(tail.lastLine(dir.path + "/missing") == nil)
        try dir.write("p", "one\n")
        #expect(tail.lastLine(dir.path + "/p") == "one")
        let handle = try FileHandle(forWritingTo: dir.url("p"))
        handle.seekToEndOfFile()
        handle.write(Data((String(repeating: "z", count: 5000) + "\nlast line\n").utf8))
        try handle.close()
        #expect(tail.lastLine(dir.path + "/p") == "last line")
    }
}
