import Foundation
import FlowCore
import Glibc
import XXHash

/// What made a workspace fresh, so that the next `flow status` or `flow run` can say so without
/// loading the workflow (nothing changed: `check`), or evaluate only what a change concerns
/// (`delta`): ninja-like no-op and one-leaf rebuild times on large DAGs.
///
/// It is written (to `.flow/fresh`) after a status or run of the whole workflow found every step
/// fresh (or made it so), and holds the stat signature of every path that was looked at (the
/// .dag files, directories listed by globs, every input and output file and directory), who
/// looked at it (the loader, or which steps), and a context: the .dag path, the `--set` values,
/// the cache location, the flow executable, the values of the environment variables steps pass
/// through, and the cache's removal marker (`CacheGeneration`). A run that starts anything
/// removes the file first, and writes a new one only if it ends with every step done.
///
/// Signatures are compared as the stat cache compares them (device, inode, size, mtime, ctime).
/// A path changed in the last `racyWindow` seconds could change again within one timestamp tick
/// and look unchanged: its steps are written as "to evaluate" (a path the workflow depends on:
/// no snapshot is written). So are steps whose observations are not complete (they ran, or were
/// restored, in the run that writes the snapshot) and steps that saw a path change under them.
///
/// File layout (`.flow/fresh`), tab-separated, names escaped as in `TextRecord`:
///
///     flow-fresh v2
///     context <digest>
///     env     NAME...                     the variables whose values are in the context
///     dirty   N                           steps marked "to evaluate" (0: all fresh)
///     P       path dev ino size mtime ctime d|f  WHO   a path that existed
///     M       path WHO                            a path that did not
///     steps   N
///     S       name duration size key to-evaluate(0|1)  in workflow order
///     E       name path                   the workflow's external data roots
///     end
///
/// WHO is a comma-separated list of `w` (the workflow depends on the path), `k` (on its kind
/// only) and step positions in the S list. The file is replaced whole (`AtomicFile`); a file
/// with another version line, or without its `end`, is treated as absent.
public struct FreshSnapshot {
    public struct StepInfo: Sendable {
        public var name: String
        public var lastDuration: Double?
        public var outputSize: Int64?
        /// The action key the step is fresh under.
        public var key: Digest128?
        /// Its observations cannot be trusted (it ran or was restored, or saw a racy path): the
        /// next status or run evaluates it and everything downstream of it.
        public var dirty = false
        public init(name: String, lastDuration: Double?, outputSize: Int64?, key: Digest128? = nil, dirty: Bool = false) {
            self.name = name
            self.lastDuration = lastDuration
            self.outputSize = outputSize
            self.key = key
            self.dirty = dirty
        }
    }

    /// One observed path: its signature then (nil: it did not exist), and who looked at it.
    public struct Entry: Sendable {
        public var stat: FileStat?
        public var workflow = false
        public var workflowKind = false
        /// Positions in `steps`.
        public var steps: [Int32] = []

        /// Takes over what `old`, of an earlier snapshot, says of the path for the steps now at
        /// positions `kept` (taken fresh from it) and for the workflow. For a path a taken step
        /// looked at, the old signature wins over one seen now: if it changed since the check,
        /// that step is evaluated next time.
        mutating func carry(_ old: Entry, kept: [Int32]) {
            if !kept.isEmpty { stat = old.stat }
            workflow = workflow || old.workflow
            workflowKind = workflowKind || old.workflowKind
            for i in kept where !steps.contains(i) { steps.append(i) }
        }
    }

    public var context: String
    /// Environment variables whose values enter the context (those steps declare with `env`).
    public var environmentNames: [String]
    public var steps: [StepInfo]
    /// Workspace-relative (or absolute) path → what was seen and by whom.
    public var entries: [String: Entry]
    /// The workflow's `external` data roots, which `flow status` shows.
    public var externals: [ExternalRoot] = []

    static let header = "flow-fresh v2"
    static let racyWindow = 0.1

    public static func path(stateDirectory: String) -> String { stateDirectory + "/fresh" }

    /// The environment variables a workflow's steps pass through (their values enter keys).
    public static func environmentNames(_ workflow: Workflow) -> [String] {
        Array(Set(workflow.steps.flatMap { $0.environment.keys })).sorted()
    }

    /// Writes the snapshot of a status or run of the whole of `workflow` that left every step
    /// fresh, from what the context's workspace observed (nothing when it was not recording).
    /// `steps` are the steps in `workflow.order`. When the evaluation took the steps `taken` as
    /// fresh from `previous` without looking at them, what they looked at then is carried over.
    public static func save(_ context: RunContext, workflow: Workflow, contextDigest: String, steps: [StepInfo],
                            previous: Delta? = nil, taken: Set<StepID> = []) {
        let ws = context.workspace
        guard let observations = ws.observations, steps.count == workflow.order.count else { return }
        // Each step's position in `steps`, by its index in the workflow.
        var position = [Int32](repeating: -1, count: workflow.steps.count)
        for (i, id) in workflow.order.enumerated() { position[id.index] = Int32(i) }
        func positionOf(_ id: StepID) -> Int32? { id.index < position.count && position[id.index] >= 0 ? position[id.index] : nil }
        var entries: [String: Entry] = [:]
        entries.reserveCapacity(observations.count + (previous?.entries.count ?? 0))
        for (path, st) in observations {
            var e = Entry(stat: st)
            if let o = ws.observers[path] {
                e.workflow = o.workflow
                e.workflowKind = o.workflowKind
                e.steps = o.steps.compactMap(positionOf)
            } else {
                e.workflow = true
            }
            entries[path] = e
        }
        if let previous { carry(previous, taken: taken, into: &entries, workflow: workflow, position: position) }
        var snapshot = FreshSnapshot(context: contextDigest, environmentNames: environmentNames(workflow), steps: steps, entries: entries)
        snapshot.externals = workflow.externals
        // Whoever looked at a path that changed under this process saw something else than
        // what is written: evaluated again next time (and a changed .dag: no snapshot).
        for path in ws.unsteadyPaths {
            guard let e = entries[path] else { continue }
            if e.workflow || e.workflowKind { return }
            for i in e.steps { snapshot.steps[Int(i)].dirty = true }
        }
        snapshot.write(stateDirectory: context.stateDirectory)
    }

    /// Adds to `entries` what `previous` recorded for the steps `taken` fresh from it, at their
    /// position in this workflow, and for the workflow (a toolchain not probed this time). For a
    /// path a taken step looked at, the old signature wins over one seen now: if it changed
    /// since the check, that step is evaluated next time.
    static func carry(_ previous: Delta, taken: Set<StepID>, into entries: inout [String: Entry], workflow: Workflow,
                      position: [Int32]) {
        // Where each step of `previous` is now, for those taken fresh from it. The snapshot of
        // the same workflow lists its steps in the same order: then no step is looked up by name.
        var now = [Int32?](repeating: nil, count: previous.steps.count)
        if previous.listsSteps(inOrderOf: workflow) {
            for (i, id) in workflow.order.enumerated() where taken.contains(id) { now[i] = position[id.index] }
        } else {
            var byName: [String: StepID] = [:]
            for id in taken { byName[workflow[id].name] = id }
            for (i, s) in previous.steps.enumerated() { now[i] = byName[s.name].map { position[$0.index] } }
        }
        var kept: [Int32] = []
        for (path, old) in previous.entries {
            kept.removeAll(keepingCapacity: true)
            for i in old.steps { if let p = now[Int(i)] { kept.append(p) } }
            guard old.workflow || old.workflowKind || !kept.isEmpty else { continue }
            entries[path, default: Entry(stat: old.stat)].carry(old, kept: kept)
        }
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

    public init(context: String, environmentNames: [String], steps: [StepInfo], entries: [String: Entry]) {
        self.context = context
        self.environmentNames = environmentNames
        self.steps = steps
        self.entries = entries
    }

    /// Writes the snapshot atomically. A path changed too recently to be trusted makes the steps
    /// that looked at it "to evaluate"; one the workflow depends on means no snapshot (false).
    @discardableResult
    public func write(stateDirectory: String) -> Bool {
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        let window = Int64(FreshSnapshot.racyWindow * 1e9)
        var steps = self.steps
        // One line per observed path, in no particular order (the check reads them all), as
        // bytes: a directory of a million files makes a million lines.
        var body = ByteText(capacity: entries.count * 96)
        for (path, e) in entries {
            if let st = e.stat {
                if st.mtimeNs > now - window || st.ctimeNs > now - window {
                    if e.workflow { return false }
                    for i in e.steps { steps[Int(i)].dirty = true }
                }
                body.append("P\t")
                body.append(escaped: path)
                body.append(byte: UInt8(ascii: "\t")); body.append(st.device)
                body.append(byte: UInt8(ascii: "\t")); body.append(st.inode)
                body.append(byte: UInt8(ascii: "\t")); body.append(st.size)
                body.append(byte: UInt8(ascii: "\t")); body.append(st.mtimeNs)
                body.append(byte: UInt8(ascii: "\t")); body.append(st.ctimeNs)
                body.append(st.isDirectory ? "\td\t" : "\tf\t")
            } else {
                body.append("M\t")
                body.append(escaped: path)
                body.append(byte: UInt8(ascii: "\t"))
            }
            FreshSnapshot.appendObservers(e, to: &body)
            body.append(byte: UInt8(ascii: "\n"))
        }
        var text = ByteText(capacity: body.bytes.count + steps.count * 80 + 256)
        text.append(FreshSnapshot.header + "\n")
        text.append(TextRecord.line(["context", context]))
        text.append(TextRecord.line(["env"] + environmentNames))
        text.append(TextRecord.line(["dirty", String(steps.filter(\.dirty).count)]))
        text.bytes += body.bytes
        text.append(TextRecord.line(["steps", String(steps.count)]))
        for s in steps {
            text.append("S\t")
            text.append(escaped: s.name)
            text.append(byte: UInt8(ascii: "\t"))
            if let d = s.lastDuration { text.append(String(d)) }
            text.append(byte: UInt8(ascii: "\t"))
            if let size = s.outputSize { text.append(size) }
            text.append(byte: UInt8(ascii: "\t"))
            if let key = s.key { text.append(hex: key) }
            text.append(s.dirty ? "\t1\n" : "\t0\n")
        }
        for e in externals { text.append(TextRecord.line(["E", e.name, e.path])) }
        text.append("end\n")
        let target = FreshSnapshot.path(stateDirectory: stateDirectory)
        return (try? AtomicFile.write(text.bytes, to: target)) != nil
    }

    /// WHO: `w`, `k` and step positions, comma-separated.
    static func appendObservers(_ e: Entry, to text: inout ByteText) {
        var first = true
        func separate() {
            if !first { text.append(byte: UInt8(ascii: ",")) }
            first = false
        }
        if e.workflow { separate(); text.append(byte: UInt8(ascii: "w")) }
        if e.workflowKind { separate(); text.append(byte: UInt8(ascii: "k")) }
        for i in e.steps { separate(); text.append(Int(i)) }
    }
}
