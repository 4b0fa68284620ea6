import ArgumentParser
import Foundation
import FlowCore
import FlowRuntime
import XXHash

/// `flow gc [FILE...]`
struct GCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove cached results that no kept run and no step of the given .dag files uses.",
        discussion: """
            Kept: the current result of every step of each FILE (default: the workspace's .dag), \
            the last successful result of every step this workspace ran, every result of the last \
            N runs, and anything finished in the last D days. A cache shared by several workspaces \
            only knows this workspace's runs: use --keep-days there.
            """)

    @OptionGroup var workspace: WorkspaceOptions

    @Argument(help: "The .dag files whose steps' results must be kept.")
    var files: [String] = []

    @Option(help: "Keep every result of the last N runs.")
    var keepRuns = 10

    @Option(help: "Keep every result finished in the last D days.")
    var keepDays: Double = 0

    @Flag(name: [.customShort("n"), .customLong("dry-run")], help: "Show what would be removed; remove nothing.")
    var dryRun = false

    func run() throws {
        let context = try workspace.context()
        var keep = Set<Digest128>()
        // Results of the current definitions, as `flow status` would find them.
        let dagFiles = files.isEmpty ? [try WorkflowArguments.words([]).file(root: context.workspace.root)] : files
        for file in dagFiles {
            let (wf, _) = try WorkflowArguments.words([file]).load(context)
            let evaluator = try context.evaluator(for: wf)
            for e in evaluator.evaluateAll(targets: Set(wf.steps.map(\.id)), forced: []).values {
                if let k = e.key { keep.insert(k) }
            }
        }
        for record in try context.state.allRecords().values { keep.insert(record.key) }
        for run in try context.state.runs(limit: keepRuns) {
            for s in try context.state.steps(ofRun: run.id) { if let k = Digest128(hex: s.key) { keep.insert(k) } }
        }
        let cutoff = Date().addingTimeInterval(-keepDays * 86400).timeIntervalSince1970
        var liveObjects = Set<Digest128>()
        var removedManifests = 0
        for (key, manifest) in context.actions.all() {
            if keep.contains(key) || manifest.finishedAt >= cutoff && keepDays > 0 {
                liveObjects.formUnion(manifest.objectDigests)
            } else {
                removedManifests += 1
                if !dryRun { context.actions.remove(key) }
            }
        }
        var removedObjects = 0
        var freed: Int64 = 0
        for o in context.store.allObjects() where !liveObjects.contains(o.digest) {
            removedObjects += 1
            freed += o.bytes
            if !dryRun { unlink(o.path) }
        }
        // Checkpoints of keys nobody keeps, and temporaries older than a day.
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: context.cacheDirectory + "/checkpoints")) ?? [] {
            guard let key = Digest128(hex: name), !keep.contains(key) else { continue }
            if !dryRun { try? fm.removeItem(atPath: context.checkpointDirectory(key)) }
        }
        let tmp = context.cacheDirectory + "/tmp"
        for name in (try? fm.contentsOfDirectory(atPath: tmp)) ?? [] {
            if let st = FileStat.of(tmp + "/" + name), Double(st.mtimeNs) / 1e9 < Date().timeIntervalSince1970 - 86400, !dryRun {
                unlink(tmp + "/" + name)
            }
        }
        if !dryRun && removedObjects > 0 { CacheGeneration.bump(context.cacheDirectory) }
        print("\(dryRun ? "would remove" : "removed") \(removedManifests) results and \(removedObjects) objects (\(Format.bytes(freed)))")
    }
}
