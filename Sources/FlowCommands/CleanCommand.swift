import ArgumentParser
import Foundation
import FlowCore
import FlowRuntime
import XXHash

/// `flow clean [FILE] [STEP...] [--orphans]`
struct CleanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clean",
        abstract: "Remove outputs that flow produced from the workspace (their results stay in the cache).",
        discussion: """
            With step names, the outputs of those steps; with --orphans, the outputs of step \
            instances that are no longer in the workflow (flow run removes those by itself); \
            with neither, the outputs of every step. Only files flow wrote and nobody changed \
            since are removed; `flow run` brings them back from the cache.
            """)

    @OptionGroup var workspace: WorkspaceOptions
    @OptionGroup var workflow: WorkflowArguments

    @Flag(help: "Only the outputs of step instances that left the workflow.")
    var orphans = false

    @Flag(name: [.customShort("n"), .customLong("dry-run")], help: "Show what would be removed; remove nothing.")
    var dryRun = false

    func run() throws {
        try workflow.requireWorkflow(root: workspace.root)
        let context = try workspace.context()
        let (wf, _) = try workflow.load(context)
        let lock = dryRun ? nil : try WorkspaceLock.take(context, wait: false)
        defer { withExtendedLifetime(lock) {} }
        let produced = try context.state.producedOutputs(workflow: wf.id)
        var candidates: [(path: String, step: String, digest: Digest128?)] = []
        let found = OrphanOutputs(workflow: wf, produced: produced, workspace: context.workspace)
        // Orphans with --orphans, or with no step named (everything).
        if orphans || workflow.targets.isEmpty {
            for o in found.removable { candidates.append((o.path, o.step, nil)) }
        }
        if !orphans {
            let ids = try workflow.targetIDs(wf)
            let chosen = ids.isEmpty ? wf.steps.map(\.id) : ids
            for id in chosen {
                for out in wf[id].outputs {
                    guard let record = produced[out.path], record.step == wf[id].name else { continue }
                    candidates.append((out.path, record.step, record.digest))
                }
            }
        }
        var removed = 0, kept = 0
        for c in candidates {
            let kind = context.workspace.kind(of: c.path)
            guard kind != .missing else { continue }
            if let expected = c.digest {
                let now = kind == .directory ? (try? context.workspace.directoryDigest(c.path))?.0 : (try? context.workspace.fileDigest(c.path))?.0
                guard now == expected else {
                    print("kept \(c.path): changed since \(c.step) wrote it")
                    kept += 1
                    continue
                }
            }
            print("\(dryRun ? "would remove" : "removed") \(c.path) (\(c.step))")
            removed += 1
            if dryRun { continue }
            try context.workspace.remove(c.path)
            try context.state.forgetProduced(c.path)
        }
        if !dryRun && removed > 0 { FreshSnapshot.invalidate(stateDirectory: context.stateDirectory) }
        print("\(dryRun ? "would remove" : "removed") \(removed) output\(removed == 1 ? "" : "s")\(kept > 0 ? ", kept \(kept) changed by hand" : "")")
    }
}
