import ArgumentParser
import Foundation
import FlowCore
import FlowRuntime

/// `flow status [FILE] [STEP...]`
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show which steps are fresh, restorable from the cache, or stale, and why.",
        discussion: "With --check, exits 1 when anything would run or be restored (for CI).")

    @OptionGroup var workspace: WorkspaceOptions
    @OptionGroup var workflow: WorkflowArguments
    @OptionGroup var remoteOptions: RemoteOptions

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Flag(help: "Exit 1 if any step must run or be restored.")
    var check = false

    @Flag(name: .shortAndLong, help: "List fresh steps too (the table shows only the others by default when there are many).")
    var all = false

    func run() throws {
        if let snapshot = FreshPath.holding(workspace, workflow) {
            try show(FreshPath.statusRows(snapshot), context: nil, externals: snapshot.externals())
            return
        }
        try workflow.requireWorkflow(root: workspace.root)
        // Read while the workspace opens and the workflow loads (see `FreshPath.deltaAhead`).
        let ahead = FreshPath.deltaAhead(workspace, workflow)
        let context = try workspace.context()
        // A report as of one moment: the cache's shards are listed once (see `ActionCache`).
        context.actions.listsShardsOnce = true
        context.remote = try remoteOptions.connect(context, root: workspace.root)
        // Slurm jobs the journal names (none usually, and then Slurm is not called): asked about
        // first, so that those that finished are committed before the steps are evaluated.
        let loaded = try workflow.load(context).0
        let snapshot = ahead.take() ?? nil
        let cluster = SlurmStatus.survey(context: context, workflow: loaded)
        let plan = try Planning(context, workflow, loaded: loaded, snapshot: cluster.isEmpty ? snapshot : nil,
                                keepingDefinitions: false)
        let wf = plan.workflow, evaluations = plan.evaluations, orphans = plan.orphans
        let targets = plan.targets
        context.workspace.saveStatCache()
        let records = try context.state.allRecords()
        // Rows with the same reasons share their texts (a new workspace: "never run" a million times).
        var lastReasons: (reasons: [StaleReason], texts: [String])?
        let rows = wf.order.filter { targets.contains($0) }.map { id -> StatusRow in
            // Field by field: `wf[id]` alone would copy the whole step.
            let name = wf[id].name
            let e = evaluations[id]!
            let record = records.isEmpty ? nil : records[name]
            let stateReasons = e.state.reasons
            var reasons: [String]
            if let last = lastReasons, last.reasons == stateReasons {
                reasons = last.texts
            } else {
                reasons = stateReasons.map(\.description)
                lastReasons = (stateReasons, reasons)
            }
            if wf[id].checkpoint, let key = e.key, let (size, age) = StatusCommand.checkpoint(context.checkpointDirectory(key)) {
                reasons.append("holds a checkpoint of \(Format.bytes(size)), \(Format.duration(age)) old")
            }
            let state = e.state.reasons.contains(.inRemoteCache) ? "remote" : e.state.label
            var row = StatusRow(step: name, state: state, reasons: reasons, lastDuration: record?.duration,
                                outputSize: e.manifest?.totalSize ?? plan.taken[id]?.outputSize ?? record?.outputSize)
            if let job = cluster[name], !job.committed { row.show(job) }
            return row
        }
        let waiting = wf.deferred.map { StatusRow(step: $0.displayName, state: "waits", reasons: ["expands after \($0.after)"],
                                                  lastDuration: nil, outputSize: nil) }
        if cluster.isEmpty, orphans.isEmpty, waiting.isEmpty, rows.count == wf.steps.count, rows.allSatisfy({ $0.state == "fresh" }),
           let snapshotContext = FreshPath.saveContext(workspace, workflow, wf) {
            let steps = zip(wf.order, rows).map { id, row in
                FreshSnapshot.StepInfo(name: row.step, lastDuration: row.lastDuration, outputSize: row.outputSize, key: evaluations[id]!.key)
            }
            FreshSnapshot.save(context, workflow: wf, contextDigest: snapshotContext, steps: steps,
                               previous: plan.taken.isEmpty ? nil : snapshot, taken: Set(plan.taken.keys))
        }
        // Not `rows + waiting` when nothing waits: that copies every row.
        try show(waiting.isEmpty ? rows : rows + waiting, context: context, cluster: cluster, orphans: orphans, externals: wf.externals,
                 evaluated: rows.count - plan.taken.count)
        // Left to the exit, but for the state, which closes (and seals) now: the plan's
        // evaluator holds it through the workspace.
        LeftForExit.leave(loaded, plan, rows)
        context.state.close()
    }

    /// `evaluated`: how many steps were evaluated, the others being fresh from the snapshot.
    func show(_ rows: [StatusRow], context: RunContext?, cluster: [String: SlurmJobStatus] = [:],
              orphans: [OrphanOutputs.Orphan] = [], externals: [ExternalRoot] = [], evaluated: Int = 0) throws {
        // Counted, not filtered: a filter copied every row that must run (a million, new).
        let mustRun = rows.reduce(0) { $1.state != "fresh" ? $0 + 1 : $0 } + orphans.count
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let report = StatusReport(steps: rows, mustRun: mustRun, evaluated: evaluated,
                                      orphans: orphans.map { StatusReport.OrphanRow(path: $0.path, step: $0.step) },
                                      externals: externals.map { StatusReport.ExternalRow(name: $0.name, path: $0.path) })
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            for o in orphans {
                print("orphaned: \(o.path) (an output of \(o.step), which is no longer in the workflow; flow run removes it)")
            }
            for e in externals { print("external \(e.name) = \(e.path) (read-only data outside the workspace)") }
            if let context { printLiveRun(context) }
            for job in cluster.values.sorted(by: { $0.step < $1.step }) where job.committed {
                print("\(job.step): \(job.summary)")
            }
            printTable(rows)
        }
        if check && mustRun > 0 { throw ExitCode(1) }
    }

    /// Size and age of a checkpoint directory, if it holds anything.
    static func checkpoint(_ dir: String) -> (Int64, Double)? {
        guard let files = try? ContentHash.listFiles(dir), !files.isEmpty else { return nil }
        var size: Int64 = 0
        var newest: Int64 = 0
        for f in files {
            guard let st = FileStat.of(dir + "/" + f) else { continue }
            size += st.size
            newest = max(newest, st.mtimeNs)
        }
        return (size, Date().timeIntervalSince1970 - Double(newest) / 1e9)
    }

    func printLiveRun(_ context: RunContext) {
        guard let last = try? context.state.runs(limit: 1).first, last.status == .running else { return }
        let live = WorkspaceLock.isHeld(stateDirectory: context.stateDirectory)
        let steps = (try? context.state.steps(ofRun: last.id, includingCached: false)) ?? []
        let inFlight = steps.filter { $0.state == .running }.map(\.step)
        if live {
            print("run \(last.id) in progress (\(WorkspaceLock.holder(stateDirectory: context.stateDirectory))); running: \(inFlight.joined(separator: ", "))")
        } else {
            print("run \(last.id) was interrupted; in flight then: \(inFlight.isEmpty ? "nothing" : inFlight.joined(separator: ", ")) (flow run resumes it)")
        }
    }

    /// One line of the table.
    static func cells(_ out: inout BufferedOutput, _ stepWidth: Int, _ step: String, _ state: String, _ last: String, _ size: String,
                      _ reason: String) {
        out.append(step, paddedTo: stepWidth)
        out.append("  ")
        out.append(state, paddedTo: 10)
        out.append("  ")
        out.append(last, paddedTo: 8)
        out.append("  ")
        out.append(size, paddedTo: 9)
        out.append("  ")
        out.append(reason)
        out.append("\n")
    }

    func printTable(_ rows: [StatusRow]) {
        let fresh = rows.reduce(0) { $1.state == "fresh" ? $0 + 1 : $0 }
        let remote = rows.reduce(0) { $1.state == "remote" ? $0 + 1 : $0 }
        let listsAll = all || rows.count <= 40
        let shownCount = listsAll ? rows.count : rows.count - fresh
        var stepWidth = 4
        for r in rows where listsAll || r.state != "fresh" { stepWidth = max(stepWidth, BufferedOutput.width(of: r.step)) }
        stepWidth = min(40, stepWidth)
        var out = BufferedOutput()
        if shownCount > 0 { Self.cells(&out, stepWidth, "STEP", "STATE", "LAST", "SIZE", "REASON") }
        // The lines of each chunk of rows are made on every core (a million rows took a fifth of
        // the time), a few chunks at a time (the text of all would be 70 MB), and printed in order.
        let chunk = 8_192, width = stepWidth
        for batch in stride(from: 0, to: rows.count, by: 8 * chunk) {
            let chunks = (min(rows.count - batch, 8 * chunk) + chunk - 1) / chunk
            var pieces = [[UInt8]](repeating: [], count: chunks)
            pieces.withUnsafeMutableBufferPointer { buffer in
                // Each iteration writes its own piece and no other; they are read once
                // concurrentPerform has returned.
                nonisolated(unsafe) let slots = buffer
                let lines: @Sendable (Int) -> Void = { c in
                    var piece = BufferedOutput(unprinted: ())
                    let start = batch + c * chunk
                    for r in rows[start..<min(rows.count, start + chunk)] where listsAll || r.state != "fresh" {
                        Self.cells(&piece, width, r.step, r.state, r.lastDuration.map(Format.duration) ?? "-",
                                   r.outputSize.map(Format.bytes) ?? "-", r.reasons.joined(separator: "; "))
                    }
                    slots[c] = piece.bytes
                }
                if chunks > 1 { DispatchQueue.concurrentPerform(iterations: chunks, execute: lines) } else { lines(0) }
            }
            for piece in pieces { out.append(bytes: piece) }
        }
        let hidden = rows.count - shownCount
        out.append("\(rows.count) steps: \(fresh) fresh, \(rows.count - fresh) to run or restore\(remote > 0 ? " (\(remote) from the remote cache)" : "")\(hidden > 0 ? " (\(hidden) fresh not listed; -a lists all)" : "")\n")
        out.flush()
    }
}

struct StatusRow: Codable {
    var step: String
    var state: String
    var reasons: [String]
    var lastDuration: Double?
    var outputSize: Int64?
    /// The step's Slurm job left by an earlier run, when there is one not yet committed.
    var slurmJob: String?
    var slurmState: String?
    var slurmNode: String?

    /// A job still on the cluster shows as pending or running; one that ended says how, before the reasons.
    mutating func show(_ job: SlurmJobStatus) {
        slurmJob = job.jobID
        slurmState = job.state
        slurmNode = job.node.isEmpty ? nil : job.node
        if job.active {
            state = job.state == "PENDING" ? "pending" : "running"
            reasons = [job.summary]
        } else {
            reasons.insert(job.summary, at: 0)
        }
    }
}

struct StatusReport: Codable {
    var steps: [StatusRow]
    /// Steps that must run or be restored, plus orphaned outputs to remove.
    var mustRun: Int
    /// Steps evaluated; the others were fresh as the fresh snapshot saw them (`.flow/fresh`).
    var evaluated: Int
    var orphans: [OrphanRow] = []
    /// The `external` data roots the workflow reads.
    var externals: [ExternalRow] = []

    struct ExternalRow: Codable {
        var name: String
        var path: String
    }

    struct OrphanRow: Codable {
        var path: String
        var step: String
    }
}

enum Format {
    static func duration(_ s: Double) -> String {
        if s < 10 { return String(format: "%.2fs", s) }
        if s < 120 { return String(format: "%.0fs", s) }
        if s < 7200 { return String(format: "%.0fm%02.0fs", (s / 60).rounded(.down), s.truncatingRemainder(dividingBy: 60)) }
        return String(format: "%.0fh%02.0fm", (s / 3600).rounded(.down), (s.truncatingRemainder(dividingBy: 3600) / 60).rounded(.down))
    }

    /// "1 result", "3 results".
    static func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

    static func bytes(_ n: Int64) -> String { ByteCount.text(n) }
}
