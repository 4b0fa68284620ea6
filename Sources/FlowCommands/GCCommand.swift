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
            for e in evaluator.evaluateAll(targets: StepSet(all: wf.steps.count), forced: []).values {
                if let k = e.key { keep.insert(k) }
            }
        }
        let started = Date().timeIntervalSince1970
        let cutoff = Date().addingTimeInterval(-keepDays * 86400).timeIntervalSince1970
        // Under the exclusive cache lock, no commit or restore is half done (see CacheLock); a
        // result committed since gc started is kept whatever it is (a run going on meanwhile,
        // here or in another workspace on this cache).
        let (removedManifests, removedObjects, freed) = try context.cacheLock.exclusive { () throws -> (Int, Int, Int64) in
            // Records are read under the lock: a commit saves its record before it lets go.
            for record in try context.state.allRecords().values { keep.insert(record.key) }
            for run in try context.state.runs(limit: keepRuns) {
                for s in try context.state.steps(ofRun: run.id) { if let k = Digest128(hex: s.key) { keep.insert(k) } }
            }
            var liveObjects = Set<Digest128>()
            var removedManifests = 0
            for (key, manifest) in context.actions.all() {
                if keep.contains(key) || manifest.finishedAt >= started || (manifest.finishedAt >= cutoff && keepDays > 0) {
                    liveObjects.formUnion(manifest.objectDigests)
                } else {
                    removedManifests += 1
                    let when = Date(timeIntervalSince1970: manifest.finishedAt).formatted(.iso8601.year().month().day().time(includingFractionalSeconds: false))
                    print("\(dryRun ? "would remove" : "removed") the result of \(manifest.step) (key \(key.short), " +
                          "\(Format.bytes(manifest.totalSize)) of outputs, finished \(when))")
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
            if !dryRun && removedObjects > 0 { CacheGeneration.bump(context.cacheDirectory) }
            return (removedManifests, removedObjects, freed)
        }
        // Checkpoints of keys nobody keeps and no running step holds, and temporaries of dead processes.
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: context.cacheDirectory + "/checkpoints")) ?? [] {
            guard let key = Digest128(hex: name), !keep.contains(key), !dryRun else { continue }
            let dir = context.checkpointDirectory(key)
            guard let lock = try? CheckpointLock(checkpointDirectory: dir) else { continue }
            try? fm.removeItem(atPath: dir)
            withExtendedLifetime(lock) {}
        }
        if !dryRun { TemporaryName.removeLeftovers(in: context.cacheDirectory + "/tmp") }
        print("\(dryRun ? "would remove" : "removed") \(removedManifests) results and \(removedObjects) objects (\(Format.bytes(freed)))")
    }
}
