import ArgumentParser
import Foundation
import FlowCore
import FlowRuntime
import XXHash

/// `flow metrics [FILE] [STEP...]` and `flow metrics diff [--run R]`
struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Show every metrics file of the workflow as one table, or compare it with a run.",
        discussion: """
            A step declares its metrics files with `metrics PATH` (outputs that are JSON or \
            simple YAML; nested keys are flattened as a.b). Instances of a fan-out or a sweep are \
            rows, with their variables as columns.
            """,
        subcommands: [Show.self, Diff.self],
        defaultSubcommand: Show.self)

    struct Output: ParsableArguments {
        @Flag(help: "Print JSON.") var json = false
        @Flag(help: "Print a Markdown table.") var md = false
    }

    /// One row: a step instance, its fan-out values and its metrics.
    struct Row: Codable, Equatable {
        var step: String
        var parameters: [String: String]
        var metrics: [String: String]
        var keyOrder: [String]
        var parameterOrder: [String]
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "The workspace's metrics as one table.")
        @OptionGroup var workspace: WorkspaceOptions
        @OptionGroup var workflow: WorkflowArguments
        @OptionGroup var output: Output

        func run() throws {
            try workflow.requireWorkflow(root: workspace.root)
            let context = try workspace.context()
            let (wf, _) = try workflow.load(context)
            let rows = try MetricsCommand.rows(wf, targets: try workflow.targetIDs(wf)) { step, path in
                try readIfPresent(context.workspace.absolute(path))
            }
            MetricsCommand.print(rows, output)
        }
    }

    struct Diff: ParsableCommand {
        /// The newest run of this workspace made with `revision` checked out (each run records
        /// its commit); `git rev-parse` resolves the name.
        static func run(atRevision revision: String, _ context: RunContext) throws -> Int64 {
            let root = context.workspace.root
            let git = Process()
            git.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            git.arguments = ["git", "-C", root, "rev-parse", "--verify", "--quiet", revision + "^{commit}"]
            let out = Pipe()
            git.standardOutput = out
            git.standardError = FileHandle.nullDevice
            try git.run()
            let hash = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            git.waitUntilExit()
            guard git.terminationStatus == 0, !hash.isEmpty else {
                throw ValidationError("'\(revision)' is not a git revision of the repository holding \(root)")
            }
            guard let run = try context.state.newestRun(atCommit: hash) else {
                throw ValidationError("no run of this workspace was made at \(revision) (\(hash.prefix(12))): check it out and run flow there first")
            }
            return run
        }

        static let configuration = CommandConfiguration(
            commandName: "diff", abstract: "Compare the workspace's metrics with those of a run (default: the run before the latest).")
        @OptionGroup var workspace: WorkspaceOptions
        @OptionGroup var workflow: WorkflowArguments
        @OptionGroup var output: Output
        @Option(name: .customLong("run"), help: "The run to compare with (see flow runs).") var runID: Int64?
        @Option(name: .customLong("rev"), help: ArgumentHelp("Compare with the results recorded by the newest run made at this git revision.",
                                                             valueName: "REV")) var revision: String?

        func run() throws {
            try workflow.requireWorkflow(root: workspace.root)
            let context = try workspace.context()
            let (wf, _) = try workflow.load(context)
            let runs = try context.state.runs(limit: 2)
            guard let run = try revision.map({ try Diff.run(atRevision: $0, context) }) ?? runID ?? (runs.count > 1 ? runs[1].id : runs.first?.id) else {
                throw ValidationError("no run to compare with yet")
            }
            let targets = try workflow.targetIDs(wf)
            let now = try MetricsCommand.rows(wf, targets: targets) { _, path in try readIfPresent(context.workspace.absolute(path)) }
            let then = try MetricsCommand.rows(wf, targets: targets, read: try MetricsCommand.reader(ofRun: run, context))
            var changes: [(step: String, key: String, old: String, new: String, delta: String)] = []
            for row in now {
                let old = then.first { $0.step == row.step }
                for key in Array(Set(row.keyOrder + (old?.keyOrder ?? []))).sorted(by: { (row.keyOrder.firstIndex(of: $0) ?? .max) < (row.keyOrder.firstIndex(of: $1) ?? .max) }) {
                    let a = old?.metrics[key] ?? "-", b = row.metrics[key] ?? "-"
                    guard a != b else { continue }
                    let delta = Double(a).flatMap { x in Double(b).map { String(format: "%+.6g", $0 - x) } } ?? ""
                    changes.append((row.step, key, a, b, delta))
                }
            }
            if output.json {
                let items = changes.map { ["step": $0.step, "metric": $0.key, "old": $0.old, "new": $0.new, "change": $0.delta] }
                Swift.print(String(decoding: try JSONSerialization.data(withJSONObject: ["run": run, "changes": items], options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
                return
            }
            let table = [["step", "metric", "run \(run)", "workspace", "change"]] + changes.map { [$0.step, $0.key, $0.old, $0.new, $0.delta] }
            Swift.print(changes.isEmpty ? "no metric differs from run \(run)" : MetricsCommand.render(table, markdown: output.md))
        }
    }

    /// Reads a step's metrics file as it was in run `run`: from that run's result, in the cache.
    static func reader(ofRun run: Int64, _ context: RunContext) throws -> (String, String) throws -> [UInt8]? {
        let keys = Dictionary(try context.state.steps(ofRun: run).compactMap { s in Digest128(hex: s.key).map { (s.step, $0) } },
                              uniquingKeysWith: { a, _ in a })
        return { step, path in
            guard let key = keys[step], let manifest = context.actions.lookup(key),
                  let out = manifest.outputs.first(where: { $0.path == path }) else { return nil }
            return try? Manifest.bytes(of: out, from: context.store)
        }
    }

    /// The rows of every step (of `targets`, or all) that declares metrics, read through `read`.
    static func rows(_ wf: Workflow, targets: [StepID], read: (String, String) throws -> [UInt8]?) throws -> [Row] {
        let selected = targets.isEmpty ? Set(wf.steps.map(\.id)) : Set(targets)
        var rows: [Row] = []
        for id in wf.order where selected.contains(id) && !wf[id].metrics.isEmpty {
            let step = wf[id]
            var row = Row(step: step.name, parameters: [:], metrics: [:], keyOrder: [], parameterOrder: step.parameters.map(\.name))
            for p in step.parameters { row.parameters[p.name] = p.value }
            for path in step.metrics {
                guard let bytes = try read(step.name, path) else { continue }
                for (key, value) in try MetricsFile.parse(bytes, path: path) {
                    let k = step.metrics.count > 1 ? WorkspacePath.stem(path) + "." + key : key
                    if row.metrics[k] == nil { row.keyOrder.append(k) }
                    row.metrics[k] = value
                }
            }
            rows.append(row)
        }
        return rows
    }

    static func print(_ rows: [Row], _ output: Output) {
        if output.json {
            let items = rows.map { ["step": $0.step, "parameters": $0.parameters, "metrics": $0.metrics] as [String: Any] }
            Swift.print(String(decoding: (try? JSONSerialization.data(withJSONObject: items, options: [.prettyPrinted, .sortedKeys])) ?? Data(), as: UTF8.self))
            return
        }
        guard !rows.isEmpty else {
            Swift.print("no metrics: declare a step's metrics files with 'metrics PATH' (JSON or YAML)")
            return
        }
        Swift.print(render(table(rows), markdown: output.md))
    }

    /// A header (step, every variable, every metric) and one line per row; `-` for a metric a
    /// row lacks (the report shows the same table).
    static func table(_ rows: [Row]) -> [[String]] {
        var parameters: [String] = [], keys: [String] = []
        for r in rows {
            for p in r.parameterOrder where !parameters.contains(p) { parameters.append(p) }
            for k in r.keyOrder where !keys.contains(k) { keys.append(k) }
        }
        return [["step"] + parameters + keys] + rows.map { r in [r.step] + parameters.map { r.parameters[$0] ?? "" } + keys.map { r.metrics[$0] ?? "-" } }
    }

    static func render(_ table: [[String]], markdown: Bool) -> String {
        if markdown {
            let head = "| " + table[0].joined(separator: " | ") + " |"
            let rule = "| " + table[0].map { _ in "---" }.joined(separator: " | ") + " |"
            return ([head, rule] + table.dropFirst().map { "| " + $0.joined(separator: " | ") + " |" }).joined(separator: "\n")
        }
        let widths = table[0].indices.map { c in table.map { $0[c].count }.max() ?? 0 }
        return table.map { row in
            row.enumerated().map { c, cell in cell.padding(toLength: widths[c], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }
}

/// A whole file, or nil when it does not exist.
func readIfPresent(_ path: String) throws -> [UInt8]? {
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}
