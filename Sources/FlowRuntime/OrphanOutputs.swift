import FlowCore
import Foundation
import XXHash

/// Outputs that flow put in the workspace for step instances that are no longer in the workflow
/// (a smaller range, a deleted glob match, a removed or renamed step).
///
/// Left in place they would be read as if current: a directory input would still see them, and
/// `flow status` would call a stale result fresh. So a run removes them before it evaluates
/// anything, and `flow status` and `flow run -n` evaluate as if they were gone. Only paths in
/// the `produced` table are candidates, and only while their content is what flow wrote: a file
/// a user wrote or edited by hand is never removed. Their results stay in the cache.
public struct OrphanOutputs {
    public struct Orphan: Equatable, Sendable {
        public var path: String
        /// The step instance that produced it.
        public var step: String
        /// False when the content changed since flow wrote it: then it is kept, and forgotten.
        public var unchanged: Bool
    }

    public var orphans: [Orphan]

    /// The recorded outputs that no step of `workflow` declares (directly, or inside a declared
    /// output directory), with whether their content is still what flow wrote.
    public init(workflow: Workflow, produced: [String: StateStore.ProducedOutput], workspace: Workspace) {
        guard !produced.isEmpty else {
            orphans = []
            return
        }
        var declared = Set<String>()
        declared.reserveCapacity(workflow.steps.count)
        var directories = Set<String>()
        // By index: iterating `steps` would copy every `Step`.
        for i in workflow.steps.indices {
            for out in workflow.steps[i].outputs {
                declared.insert(out.path)
                if out.isDirectory { directories.insert(out.path) }
            }
        }
        func isCurrent(_ path: String) -> Bool {
            declared.contains(path) || WorkspacePath.hasAncestor(path, in: directories)
        }
        // Steps that expand later (`Workflow.deferred`) keep their outputs until they have.
        let waiting = Set(workflow.deferred.map(\.baseName))
        func base(_ step: String) -> String { step.firstIndex(of: "[").map { String(step[..<$0]) } ?? step }
        var result: [Orphan] = []
        for (path, record) in produced.sorted(by: { $0.key < $1.key }) where !isCurrent(path) && !waiting.contains(base(record.step)) {
            let kind = workspace.kind(of: path)
            guard kind != .missing else {
                result.append(Orphan(path: path, step: record.step, unchanged: false))
                continue
            }
            let digest = kind == .directory ? (try? workspace.directoryDigest(path))?.0 : (try? workspace.fileDigest(path))?.0
            result.append(Orphan(path: path, step: record.step, unchanged: digest == record.digest))
        }
        orphans = result
    }

    /// The orphans that exist and would be removed.
    public var removable: [Orphan] { orphans.filter(\.unchanged) }

    /// Removes the unchanged orphans from the workspace and forgets every orphan; returns what
    /// was removed and what was kept because it had been changed by hand.
    public func remove(workspace: Workspace, state: StateStore) throws -> (removed: [Orphan], kept: [Orphan]) {
        var removed: [Orphan] = [], kept: [Orphan] = []
        for o in orphans {
            let exists = workspace.kind(of: o.path) != .missing
            if o.unchanged {
                try FileIO.removeTree(workspace.absolute(o.path))
                removed.append(o)
            } else if exists {
                kept.append(o)
            }
            try state.forgetProduced(o.path)
        }
        return (removed, kept)
    }
}
