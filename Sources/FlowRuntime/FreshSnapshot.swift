import Foundation
import FlowCore
import Glibc
import XXHash

/// What made a workspace entirely fresh, so that the next `flow status` or no-op `flow run` can
/// say so without loading the workflow, the stat cache or a single manifest: ninja-like no-op
/// times on large DAGs.
///
/// It is written (to `.flow/fresh`) only after a full evaluation found every step fresh, and
/// holds the stat signature of every path that evaluation looked at (the .dag files, directories
/// listed by globs, every input and output file and directory) plus a context: the .dag path,
/// the `--set` values, the cache location, the flow executable, the values of the environment
/// variables steps pass through, and the cache's removal marker (`CacheGeneration`). Valid means
/// all of those are unchanged, in which case a full evaluation would see exactly what it saw
/// then, and find every step fresh again. A run that starts anything removes the file.
///
/// Signatures are compared as the stat cache compares them (device, inode, size, mtime, ctime),
/// and a snapshot is not written while any observed path changed in the last `racyWindow`
/// seconds: a file changed twice within one timestamp tick could otherwise look unchanged.
public struct FreshSnapshot {
    public struct StepInfo {
        public var name: String
        public var lastDuration: Double?
        public var outputSize: Int64?
        public init(name: String, lastDuration: Double?, outputSize: Int64?) {
            self.name = name
            self.lastDuration = lastDuration
            self.outputSize = outputSize
        }
    }

    public var context: String
    /// Environment variables whose values enter the context (those steps declare with `env`).
    public var environmentNames: [String]
    public var steps: [StepInfo]
    /// Workspace-relative (or absolute) path → signature when observed; nil: it did not exist.
    public var observations: [String: FileStat?]
    /// The workflow's `external` data roots, which `flow status` shows.
    public var externals: [ExternalRoot] = []

    static let header = "flow-fresh v1"
    static let racyWindow = 0.1

    public static func path(stateDirectory: String) -> String { stateDirectory + "/fresh" }

    /// The environment variables a workflow's steps pass through (their values enter keys).
    public static func environmentNames(_ workflow: Workflow) -> [String] {
        Array(Set(workflow.steps.flatMap { $0.environment.keys })).sorted()
    }

    /// Writes the snapshot of an evaluation that found every step of `workflow` fresh, from what
    /// the context's workspace observed (nothing when it was not recording).
    public static func save(_ context: RunContext, workflow: Workflow, contextDigest: String, steps: [StepInfo]) {
        guard let observations = context.workspace.observations else { return }
        var snapshot = FreshSnapshot(context: contextDigest, environmentNames: environmentNames(workflow), steps: steps,
                                     observations: observations)
        snapshot.externals = workflow.externals
        snapshot.write(stateDirectory: context.stateDirectory)
    }

    /// Removes the snapshot: the next status or run evaluates everything.
    public static func invalidate(stateDirectory: String) {
        unlink(path(stateDirectory: stateDirectory))
    }

    /// The context digest: everything besides the observed paths that decides the evaluation.
    public static func context(dag: String, overrides: [String: String], cacheDirectory: String,
                               environmentNames: [String], environment: [String: String]) -> String {
        var text = "dag \(dag)\ncache \(cacheDirectory)\n"
        for (k, v) in overrides.sorted(by: { $0.key < $1.key }) { text += "set \(k)=\(v)\n" }
        for name in environmentNames.sorted() { text += "env \(name)=\(environment[name] ?? "\u{0}unset")\n" }
        let exe = RunContext.currentExecutable()
        text += "exe \(exe) \(signatureText(FileStat.of(exe)))\n"
        text += "generation \(CacheGeneration.signature(cacheDirectory))\n"
        // A cache directory removed and made again has new inodes.
        for sub in ["actions", "objects"] { text += "\(sub) \(FileStat.of(cacheDirectory + "/" + sub)?.inode ?? 0)\n" }
        return XXH128.hash(Array(text.utf8)).hex
    }

    static func signatureText(_ st: FileStat?) -> String {
        guard let st else { return "-" }
        return "\(st.device) \(st.inode) \(st.size) \(st.mtimeNs) \(st.ctimeNs) \(st.isDirectory ? "d" : "f")"
    }

    public init(context: String, environmentNames: [String], steps: [StepInfo], observations: [String: FileStat?]) {
        self.context = context
        self.environmentNames = environmentNames
        self.steps = steps
        self.observations = observations
    }

    /// Writes the snapshot atomically; does nothing (and returns false) when a path changed too
    /// recently to be trusted.
    @discardableResult
    public func write(stateDirectory: String) -> Bool {
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        let window = Int64(FreshSnapshot.racyWindow * 1e9)
        var text = FreshSnapshot.header + "\n"
        text += TextRecord.line(["context", context])
        text += TextRecord.line(["env"] + environmentNames)
        // One line per observed path, in no particular order (the check reads them all): built
        // by appending, as a directory of a million files makes a million lines.
        text.reserveCapacity(text.utf8.count + observations.count * 128)
        for (path, st) in observations {
            if let st {
                if st.mtimeNs > now - window || st.ctimeNs > now - window { return false }
                text += "P\t"
                text += TextRecord.escape(path)
                text += "\t\(st.device)\t\(st.inode)\t\(st.size)\t\(st.mtimeNs)\t\(st.ctimeNs)\t\(st.isDirectory ? "d" : "f")\n"
            } else {
                text += TextRecord.line(["M", path])
            }
        }
        text += TextRecord.line(["steps", String(steps.count)])
        for s in steps {
            text += TextRecord.line(["S", s.name, s.lastDuration.map { String($0) } ?? "", s.outputSize.map { String($0) } ?? ""])
        }
        for e in externals { text += TextRecord.line(["E", e.name, e.path]) }
        let target = FreshSnapshot.path(stateDirectory: stateDirectory)
        return (try? AtomicFile.write(Array(text.utf8), to: target)) != nil
    }

}
