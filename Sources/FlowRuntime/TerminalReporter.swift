import Foundation
import FlowCore
import Glibc

/// The live display of `flow run` on a terminal (ninja/cargo style): finished steps scroll up
/// as permanent lines, and below them a status area redraws in place, at most ten times a
/// second: the counts, the elapsed time, and one line per running step with its elapsed time and
/// the last line of its progress file (`FLOW_PROGRESS`).
///
/// Every update is one `write` of the whole area (cursor up, each line cleared and rewritten,
/// the rest of the screen cleared), so the area does not flicker; nothing is written when the
/// text did not change. Lines are cut to the terminal's width, so none wraps. Colours unless
/// `NO_COLOR` is set. Messages for stderr (failures, warnings) clear the area first.
public final class TerminalReporter: RunReporter {
    let verbose: Bool
    let color: Bool
    let write: (Int32, String) -> Void
    let columns: () -> Int
    let clock: () -> Date
    let tail = ProgressTail()
    let lock = NSLock()

    var total = 0
    var settled = 0
    var counts: [StepOutcome: Int] = [:]
    var start = Date()
    /// Running steps in start order, with their progress files once a tick has named them.
    var running: [(name: String, started: Date, progress: String?)] = []
    /// The status area on screen now: its lines, so an unchanged area is not rewritten.
    var drawn: [String] = []
    var lastDraw = Date.distantPast
    /// The most lines of running steps shown; the rest are counted on one line.
    var maxRunningLines = 12

    /// - Parameters:
    ///   - write: where text goes: file descriptor 1 or 2 (tests capture it).
    ///   - columns: the terminal width (default: asked of the terminal on each redraw).
    public init(verbose: Bool = false, color: Bool = ProcessInfo.processInfo.environment["NO_COLOR"].map(\.isEmpty) ?? true,
                write: ((Int32, String) -> Void)? = nil, columns: (() -> Int)? = nil, clock: @escaping () -> Date = Date.init) {
        self.verbose = verbose
        self.color = color
        self.write = write ?? { fd, text in FileHandle(fileDescriptor: fd).write(Data(text.utf8)) }
        self.columns = columns ?? TerminalReporter.terminalColumns
        self.clock = clock
    }

    /// The width of the terminal on standard output ($COLUMNS, else 80, when it cannot be asked).
    public static func terminalColumns() -> Int {
        var size = winsize()
        if ioctl(1, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 { return Int(size.ws_col) }
        return ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init) ?? 80
    }

    /// True when `flow run` should use this reporter: standard output is a terminal that can move
    /// its cursor, and no CI system is driving the run.
    public static func suitable(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard isatty(1) != 0 else { return false }
        if let ci = environment["CI"], !ci.isEmpty { return false }
        return environment["TERM"] != "dumb"
    }

    // MARK: RunReporter

    public func begin(total: Int, runID: Int64, dryRun: Bool) {
        locked {
            self.total = total
            start = clock()
        }
    }

    public func grow(total: Int) { locked { self.total = total } }

    public func stepStarted(_ step: Step, reasons: [StaleReason], attempt: Int) {
        locked {
            if !running.contains(where: { $0.name == step.name }) { running.append((step.name, clock(), nil)) }
            if verbose {
                let why = reasons.first.map { " (\($0))" } ?? ""
                permanent(["[\(settled + 1)/\(total)] start \(step.name)\(attempt > 1 ? " attempt \(attempt)" : "")\(why)", "    \(step.commandLine)"])
            } else {
                // Shown at the next tick (within 0.1 s): a burst of starts is one redraw.
                redraw(force: false)
            }
        }
    }

    public func stepSettled(_ step: Step, outcome: StepOutcome, note: String) {
        locked {
            settled += 1
            counts[outcome, default: 0] += 1
            running.removeAll { $0.name == step.name }
            if outcome == .wouldRun || (outcome == .cached && !verbose) {
                redraw(force: false)
                return
            }
            let line = "[\(settled)/\(total)] " + paint(outcome.rawValue, TerminalReporter.colorCode(outcome)) + " \(step.name)" + (note.isEmpty ? "" : " (\(note))")
            permanent([line])
        }
    }

    public func wouldRun(_ step: Step, reasons: [StaleReason]) {
        locked { permanent(["would run \(step.name): \(reasons.map(\.description).joined(separator: "; "))"]) }
    }

    public func stepFailed(_ step: Step, message: String, logTail: [String], logPath: String?) {
        var lines = [paint("FAILED", "31;1") + " \(step.name): \(message)", "  \(step.commandLine)"]
        if !logTail.isEmpty {
            lines.append("  last \(logTail.count) lines of its log:")
            lines += logTail.map { "  | \($0)" }
        }
        if let logPath { lines.append("  full log: \(logPath)") }
        locked { permanent(lines, fd: 2) }
    }

    public func warning(_ message: String) {
        locked { permanent(["flow: " + paint("warning:", "33") + " \(message)"], fd: 2) }
    }

    public func note(_ message: String) {
        locked { permanent(["flow: \(message)"]) }
    }

    public func tick(_ steps: [RunningStep], summary: RunSummary) {
        locked {
            running = steps.map { ($0.name, $0.started, $0.progressPath) }
            tail.keepOnly(Set(running.compactMap(\.progress)))
            redraw(force: false)
        }
    }

    public func end(_ summary: RunSummary, workflow: Workflow) {
        let parts = [StepOutcome.ran, .cached, .restored, .wouldRun, .failed, .skipped, .interrupted].compactMap { o -> String? in
            let n = summary.count(o)
            return n > 0 ? "\(n) \(o.rawValue)" : nil
        }
        let status = summary.interrupted ? paint("interrupted", "33") : (summary.failed ? paint("FAILED", "31;1") : paint("done", "32"))
        let run = summary.runID > 0 ? "run \(summary.runID) " : ""
        let line = "flow: \(run)\(status): \(parts.isEmpty ? "nothing to do" : parts.joined(separator: ", ")) (\(String(format: "%.2fs", summary.duration)))"
        locked {
            running = []
            clearArea()
            write(summary.failed || summary.interrupted ? 2 : 1, line + "\n")
        }
    }

    // MARK: drawing

    func locked(_ body: () -> Void) {
        lock.lock()
        defer { lock.unlock() }
        body()
    }

    /// Prints lines above the status area (which is then drawn again below them).
    func permanent(_ lines: [String], fd: Int32 = 1) {
        let width = columns()
        if fd == 1 {
            var text = moveToAreaStart()
            for l in lines { text += "\u{1B}[2K" + l + "\n" }
            drawn = []
            text += area(width: width)
            write(1, text)
        } else {
            clearArea()
            write(2, lines.joined(separator: "\n") + "\n")
            redraw(force: true)
        }
        lastDraw = clock()
    }

    /// Redraws the status area if it changed, at most ten times a second unless `force`.
    func redraw(force: Bool) {
        let now = clock()
        guard force || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        let lines = statusLines(now: now, width: columns())
        guard lines != drawn else { return }
        write(1, moveToAreaStart() + render(lines))
        drawn = lines
        lastDraw = now
    }

    func clearArea() {
        guard !drawn.isEmpty else { return }
        write(1, moveToAreaStart() + "\u{1B}[J")
        drawn = []
    }

    /// Cursor up to the first line of the drawn area (the cursor rests on the line below it).
    func moveToAreaStart() -> String {
        drawn.isEmpty ? "\r" : "\r\u{1B}[\(drawn.count)A"
    }

    func area(width: Int) -> String {
        let lines = statusLines(now: clock(), width: width)
        drawn = lines
        return render(lines)
    }

    func render(_ lines: [String]) -> String {
        lines.map { "\u{1B}[2K" + $0 + "\n" }.joined() + "\u{1B}[J"
    }

    /// The status area: a counts line, then one line per running step, each cut to `width - 1`
    /// visible characters (the last column would wrap on some terminals).
    func statusLines(now: Date, width: Int) -> [String] {
        guard total > 0, !running.isEmpty || settled < total else { return [] }
        let w = max(20, width - 1)
        var head: [(String, String?)] = [("[\(settled)/\(total)] ", nil)]
        let shown: [(StepOutcome, String)] = [(.ran, "ran"), (.cached, "cached"), (.restored, "restored"), (.failed, "failed")]
        var parts: [(String, String?)] = []
        for (o, word) in shown where (counts[o] ?? 0) > 0 { parts.append(("\(counts[o]!) \(word)", TerminalReporter.colorCode(o))) }
        parts.append(("\(running.count) running", "35"))
        for (i, p) in parts.enumerated() {
            if i > 0 { head.append((", ", nil)) }
            head.append(p)
        }
        head.append((" · " + TerminalReporter.elapsed(now.timeIntervalSince(start)), "2"))
        var lines = [fit(head, w)]
        let nameWidth = min(32, running.map(\.name.count).max() ?? 0)
        for r in running.prefix(maxRunningLines) {
            let name = r.name.count > nameWidth ? String(r.name.prefix(nameWidth - 1)) + "…" : r.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
            var segments: [(String, String?)] = [("  " + name + "  ", nil), (TerminalReporter.elapsed(now.timeIntervalSince(r.started)).leftPadded(6), "2")]
            if let p = r.progress, let line = tail.lastLine(p) { segments.append(("  " + line, nil)) }
            lines.append(fit(segments, w))
        }
        if running.count > maxRunningLines { lines.append(fit([("  … and \(running.count - maxRunningLines) more", "2")], w)) }
        return lines
    }

    /// Joins coloured segments, cutting the visible text at `width` characters.
    func fit(_ segments: [(String, String?)], _ width: Int) -> String {
        var left = width
        var out = ""
        for (text, code) in segments where left > 0 {
            let piece = text.count > left ? String(text.prefix(max(0, left - 1))) + "…" : text
            left -= piece.count
            out += code.map { paint(piece, $0) } ?? piece
        }
        return out
    }

    func paint(_ text: String, _ code: String) -> String {
        color ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    static func colorCode(_ o: StepOutcome) -> String {
        switch o {
        case .ran: return "32"
        case .cached, .restored: return "36"
        case .failed: return "31"
        case .interrupted, .skipped, .notStarted: return "33"
        case .wouldRun: return "0"
        }
    }

    /// 7s, 1m05s, 2h03m.
    static func elapsed(_ s: Double) -> String {
        let t = Int(max(0, s))
        if t < 60 { return "\(t)s" }
        if t < 3600 { return String(format: "%dm%02ds", t / 60, t % 60) }
        return String(format: "%dh%02dm", t / 3600, (t % 3600) / 60)
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
