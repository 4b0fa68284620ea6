import FlowCore
import XXHash

extension Evaluator {
    /// The digest of a directory input that may hold other steps' outputs (`in data/feat/`, where
    /// each `features[i]` writes one file).
    ///
    /// It is made of what the steps that write inside it produced, from their manifests (so that
    /// `flow run -n` and `flow status` see what the run will put there, not what the workspace
    /// holds now), and of the workspace's files that no current step writes. Files that no current
    /// step declares but that flow produced for a step that left the workflow are not in it: they
    /// are hidden here, and a run removes them (`OrphanOutputs`). The Merkle form is the one of
    /// `Workspace.directoryDigest`, so a workspace that matches its manifests gives the same digest.
    func directoryInputDigest(_ path: String, of step: Step) throws -> Digest128 {
        let prefix = path.isEmpty ? "" : path + "/"
        var produced: [ContentHash.TreeEntry] = []
        var declared: [PathRef] = []
        for dep in step.dependencies {
            for out in workflow[dep].outputs where !prefix.isEmpty && out.path.hasPrefix(prefix) {
                declared.append(out)
                guard let manifest = manifest(of: dep), let m = manifest.outputs.first(where: { $0.path == out.path }) else {
                    // Not settled (cannot happen for a step whose dependencies are done): the workspace decides.
                    return try workspace.directoryDigest(path).0
                }
                let rel = String(out.path.dropFirst(prefix.count))
                if let entries = m.entries {
                    for e in entries {
                        guard let d = Digest128(hex: e.digest) else { continue }
                        produced.append(ContentHash.TreeEntry(path: rel + "/" + e.path, digest: d, size: e.size, executable: e.executable))
                    }
                } else if let d = Digest128(hex: m.digest) {
                    produced.append(ContentHash.TreeEntry(path: rel, digest: d, size: m.size, executable: m.executable))
                }
            }
        }
        guard !declared.isEmpty else { return try workspace.directoryDigest(path).0 }
        // What the producers write, found in a set (a join over 10,000 shards compares each file once).
        let declaredPaths = Set(declared.map(\.path))
        let declaredDirectories = Set(declared.filter(\.isDirectory).map(\.path))
        func isDeclared(_ full: String) -> Bool {
            declaredPaths.contains(full) || WorkspacePath.hasAncestor(full, in: declaredDirectories)
        }
        var entries = produced
        if workspace.kind(of: path) == .directory {
            for e in try workspace.directoryDigest(path).1 where !isDeclared(prefix + e.path) {
                entries.append(e)
            }
        }
        return ContentHash.tree(entries)
    }
}
