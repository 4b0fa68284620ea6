import ArgumentParser
import Foundation
import FlowRuntime
import XXHash

/// `flow verify`
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Re-hash every object in the cache and every file kept inside a manifest; remove corrupt objects and the manifests that need them.",
        discussion: "Exits 1 when anything corrupt was found (after removing it: the steps that need it run again).")

    @OptionGroup var workspace: WorkspaceOptions

    @Flag(name: [.customShort("n"), .customLong("dry-run")], help: "Report only; remove nothing.")
    var dryRun = false

    func run() throws {
        let context = try workspace.context()
        let objects = context.store.allObjects()
        var corrupt: [Digest128] = []
        var bytes: Int64 = 0
        for o in objects {
            bytes += o.bytes
            if !context.store.verify(o.digest, dryRun: dryRun) {
                corrupt.append(o.digest)
                print("corrupt object \(o.digest.hex) (\(o.path))\(dryRun ? "" : ": removed")")
            }
        }
        var broken = 0
        let manifests = context.actions.all()
        var inlineFiles = 0
        for (key, manifest) in manifests {
            // Checks the files kept inside the manifest against their digests too.
            if let reason = manifest.structuralProblem {
                broken += 1
                print("action \(key.short) of \(manifest.step) is invalid or unsafe (\(reason))\(dryRun ? "" : ": removed, the step will run again")")
                if !dryRun { context.actions.remove(key) }
                continue
            }
            inlineFiles += manifest.inlineFileCount
            let missing = manifest.objectDigests.filter { !context.store.contains($0) }
            if !missing.isEmpty {
                broken += 1
                print("action \(key.short) of \(manifest.step) needs \(missing.count) missing object(s)\(dryRun ? "" : ": removed, the step will run again")")
                if !dryRun { context.actions.remove(key) }
            }
        }
        print("verified \(objects.count) objects (\(Format.bytes(bytes))) and \(manifests.count) manifests (\(inlineFiles) files inside them): " +
              (corrupt.isEmpty && broken == 0 ? "all good" : "\(corrupt.count) corrupt objects, \(broken) incomplete or invalid manifests"))
        if !corrupt.isEmpty || broken > 0 { throw ExitCode(1) }
    }
}
