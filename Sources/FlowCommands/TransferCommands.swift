import ArgumentParser
import Foundation
import FlowCore
import FlowRuntime
import XXHash

/// `flow push [FILE] [STEP...]`: uploads the results the local cache holds for the steps (all by
/// default) to the remote cache, objects first and each manifest last.
struct PushCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Upload the cached results of steps (default: all) to the remote cache.",
        discussion: """
            Exactly the named steps' results are uploaded (a fan-out's base name names all its \
            instances), whatever the remote mode: pushing is writing on purpose. A step with no \
            result in the local cache is listed and left out.
            """)

    @OptionGroup var workspace: WorkspaceOptions
    @OptionGroup var workflow: WorkflowArguments
    @OptionGroup var remoteOptions: RemoteOptions

    func run() throws {
        try workflow.requireWorkflow(root: workspace.root)
        let context = try workspace.context()
        let remote = try remoteOptions.connect(context, root: workspace.root, mode: .readWrite, required: true)!
        let plan = try Planning(context, workflow)
        let requested = try requestedSteps(plan.workflow, workflow)
        var results: [(key: Digest128, manifest: Manifest)] = []
        var missing: [String] = []
        for id in requested {
            let e = plan.evaluations[id]
            if let e, e.state.isKnown, let key = e.key, let manifest = e.manifest {
                results.append((key, manifest))
            } else {
                missing.append(plan.workflow[id].name)
            }
        }
        let progress = TransferProgress(verb: "pushing")
        remote.progress = { progress.update($0) }
        let start = Date()
        _ = remote.loadPending()
        let moved = remote.pushAll(results)
        remote.savePending()
        progress.clear()
        for name in missing { print("not pushed: \(name) has no result in the local cache (flow run computes it)") }
        print("pushed \(moved.results) of \(Format.count(results.count, "result")): \(Format.count(moved.objects, "object")), "
              + "\(Format.bytes(moved.bytes)) uploaded in \(Format.duration(Date().timeIntervalSince(start)))")
        if remote.isDown || moved.results < results.count { throw ExitCode(1) }
    }
}

/// `flow pull [FILE] [STEP...]`: downloads from the remote cache the results of the steps (all by
/// default) that this machine lacks, keeps them in the local cache and restores their outputs.
struct PullCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Download steps' results (default: all) from the remote cache and restore their outputs.",
        discussion: """
            Exactly the named steps' results are downloaded (a fan-out's base name names all its \
            instances). Every object is checked against its digest before it is kept; a step the \
            remote has no result for is listed, and `flow run` computes it.
            """)

    @OptionGroup var workspace: WorkspaceOptions
    @OptionGroup var workflow: WorkflowArguments
    @OptionGroup var remoteOptions: RemoteOptions

    @Option(help: "How outputs are put into the workspace: auto (reflink, else copy), copy, or hardlink.")
    var link: LinkMode = .auto

    func run() throws {
        try workflow.requireWorkflow(root: workspace.root)
        let context = try workspace.context()
        let remote = try remoteOptions.connect(context, root: workspace.root, mode: .readOnly, required: true)!
        context.remote = remote
        // Evaluated with the remote's manifests standing in for missing results, so that a step
        // downstream of one the remote has gets its key.
        let plan = try Planning(context, workflow)
        let wf = plan.workflow
        let requested = try requestedSteps(wf, workflow)
        var wanted: [(key: Digest128, step: Step)] = []
        var absent: [String] = []
        var blocked: [String] = []
        for id in requested {
            guard let e = plan.evaluations[id] else { continue }
            if e.state.reasons.contains(.inRemoteCache), let key = e.key {
                wanted.append((key, wf[id]))
            } else if case .stale(let reasons) = e.state, case .upstreamStale(let up)? = reasons.first {
                blocked.append("\(wf[id].name) (its inputs are not known until \(up) runs)")
            } else if !e.state.isKnown {
                absent.append(wf[id].name)
            }
        }
        let progress = TransferProgress(verb: "pulling")
        remote.progress = { progress.update($0) }
        let start = Date()
        let (fetched, moved) = remote.fetchAll(wanted)
        progress.clear()
        let restorer = ResultRestorer(context: context, link: link)
        var restored = 0
        for id in requested {
            guard let e = plan.evaluations[id], let key = e.key else { continue }
            let manifest = fetched[key] ?? (e.state == .fresh ? nil : e.state.isKnown ? e.manifest : nil)
            guard let manifest else { continue }
            try restorer.restore(manifest)
            try context.state.recordProduced(step: wf[id].name, workflow: wf.id, manifest.outputs.compactMap { o in
                Digest128(hex: o.digest).map { (o.path, $0) }
            })
            restored += 1
        }
        context.workspace.saveStatCache()
        for (key, step) in wanted where fetched[key] == nil { absent.append(step.name) }
        for name in absent { print("not pulled: the remote cache has no result of \(name) (flow run computes it)") }
        for line in blocked { print("not pulled: \(line)") }
        print("pulled \(Format.count(fetched.count, "result")): \(Format.count(moved.objects, "object")), \(Format.bytes(moved.bytes)) "
              + "downloaded in \(Format.duration(Date().timeIntervalSince(start))); outputs of \(Format.count(restored, "step")) restored")
        if remote.isDown { throw ExitCode(1) }
    }
}

/// The steps a transfer acts on: exactly the named ones (all when none is named).
func requestedSteps(_ wf: Workflow, _ arguments: WorkflowArguments) throws -> [StepID] {
    let named = Set(try arguments.targetIDs(wf))
    return wf.order.filter { named.isEmpty ? true : named.contains($0) }
}

/// Bytes, objects, rate and time left on a terminal's last line (nothing when not a terminal).
final class TransferProgress: @unchecked Sendable {
    // @unchecked: called from the transfer threads; `lock` guards every field.
    let verb: String
    let lock = NSLock()
    let start = Date()
    var lastDraw = Date.distantPast
    let terminal = isatty(2) != 0

    init(verb: String) { self.verb = verb }

    func update(_ p: RemoteResults.Progress) {
        guard terminal else { return }
        lock.lock(); defer { lock.unlock() }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= 0.1 || p.objectsDone == p.objectsTotal else { return }
        lastDraw = now
        let elapsed = max(0.001, now.timeIntervalSince(start))
        let rate = Double(p.bytesDone) / elapsed
        var line = "\(verb): \(p.objectsDone)/\(p.objectsTotal) objects, \(Format.bytes(p.bytesDone))"
        if p.bytesTotal > 0 { line += " of \(Format.bytes(p.bytesTotal))" }
        line += ", \(Format.bytes(Int64(rate)))/s"
        if p.bytesTotal > p.bytesDone, rate > 0 { line += ", \(Format.duration(Double(p.bytesTotal - p.bytesDone) / rate)) left" }
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
    }

    func clear() {
        guard terminal else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
