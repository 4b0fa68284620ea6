import Foundation
import FlowCore
import XXHash

/// Decides, step by step in dependency order, whether each step is fresh, restorable or stale,
/// and why. `flow status` evaluates every step up front; `flow run` evaluates a step when its
/// dependencies are done, so that its inputs are the real ones.
public final class Evaluator {
    public let workflow: Workflow
    let workspace: Workspace
    let store: any ObjectStoring
    let actions: any ManagedActionStoring
    let records: [String: StateStore.StepRecord]
    /// The manifest of each step whose result is known (fresh, restorable, or just run).
    public private(set) var manifests: [StepID: Manifest] = [:]
    /// Steps that must run and have not yet: their dependents' keys cannot be known.
    public var pending: Set<StepID> { Set(isPending.indices.filter { isPending[$0] }.map { StepID(rawValue: Int32($0)) }) }
    /// `pending` by step index: a set hashed a million ids at a million steps.
    private var isPending: [Bool]
    /// The remote cache, asked for a result that the local cache lacks: with `fetchFromRemote`
    /// (`flow run`) the result is brought into the local cache; without (`flow status`), the
    /// step stays stale and says the remote has its result.
    public var remote: RemoteResults?
    public var fetchFromRemote = false
    /// Where problems found in the cache are reported (standard error unless set).
    public var warn: (String) -> Void = { FileHandle.standardError.write(Data("warning: \($0)\n".utf8)) }
    /// Steps the fresh snapshot knows to be fresh, with the key of each (`restrict`).
    public private(set) var knownFresh: [StepID: Digest128] = [:]
    /// The known-fresh steps taken as fresh without being evaluated, so far.
    public private(set) var takenFresh: Set<StepID> = []
    /// Set while `evaluateAll` makes evaluations without definitions: none is made to be dropped.
    private var dropsDefinitions = false
    /// While `evaluateAll` runs, the key of each step that reads nothing, by index (`selfContainedKeys`).
    private var presetKeys: [Digest128?] = []
    /// The digests of the steps' toolchains, probed once per declaration.
    lazy var toolchains = ToolchainProbe(workspace: workspace) { [unowned self] in self.warn($0) }

    public init(workflow: Workflow, workspace: Workspace, store: any ObjectStoring, actions: any ManagedActionStoring,
                records: [String: StateStore.StepRecord]) {
        self.workflow = workflow
        self.workspace = workspace
        self.store = store
        self.actions = actions
        self.records = records
        isPending = Array(repeating: false, count: workflow.steps.count)
    }

    /// The step's result is known (fresh, restored, or just run): its dependents' keys use it.
    public func settled(_ id: StepID, _ manifest: Manifest?) {
        manifests[id] = manifest
        isPending[id.index] = false
    }

    /// The step must run and has not (a dry run): its dependents are upstream stale.
    public func willRun(_ id: StepID) { isPending[id.index] = true }

    /// Takes over what `earlier`, an evaluator of a smaller version of the workflow, knew, with
    /// step ids mapped by `mapping` (see `Plan.grow`).
    public func inherit(from earlier: Evaluator, mapping: StepIDMap) {
        manifests.merge(mapping.carry(earlier.manifests)) { _, new in new }
        for id in mapping.carry(earlier.pending) { isPending[id.index] = true }
    }

    /// A step's state and key, and what the run and `flow explain` need besides. That rest is
    /// kept out of line, and not at all when empty: `flow status` of a million steps holds a
    /// million evaluations, of which it reads only the state, the key and the manifest.
    public struct Evaluation {
        public var state: StepState
        public var key: Digest128?
        private var details: Details?

        init(state: StepState, key: Digest128? = nil, definition: StepDefinition? = nil, manifest: Manifest? = nil,
             inputStats: [String: FileStat] = [:], statedDirectories: Set<String> = []) {
            self.state = state
            self.key = key
            let rest = Rest(definition: definition, manifest: manifest, inputStats: inputStats, statedDirectories: statedDirectories)
            details = rest.isEmpty ? nil : Details(rest)
        }

        public var definition: StepDefinition? {
            get { details?.rest.definition }
            set { update { $0.definition = newValue } }
        }
        public var manifest: Manifest? {
            get { details?.rest.manifest }
            set { update { $0.manifest = newValue } }
        }
        /// The stat signature of each input file at evaluation, to detect a step changing its inputs.
        public var inputStats: [String: FileStat] {
            get { details?.rest.inputStats ?? [:] }
            set { update { $0.inputStats = newValue } }
        }
        /// Directory inputs whose files' signatures are in `inputStats` already.
        public var statedDirectories: Set<String> {
            get { details?.rest.statedDirectories ?? [] }
            set { update { $0.statedDirectories = newValue } }
        }

        /// Copies share one `Details`, which is never changed: a change makes a new one.
        private mutating func update(_ change: (inout Rest) -> Void) {
            var rest = details?.rest ?? Rest()
            change(&rest)
            details = rest.isEmpty ? nil : Details(rest)
        }

        private struct Rest {
            var definition: StepDefinition?
            var manifest: Manifest?
            var inputStats: [String: FileStat] = [:]
            var statedDirectories: Set<String> = []

            var isEmpty: Bool { definition == nil && manifest == nil && inputStats.isEmpty && statedDirectories.isEmpty }
        }

        private final class Details {
            let rest: Rest
            init(_ rest: Rest) { self.rest = rest }
        }
    }

    public func evaluate(_ id: StepID, forced: Bool) -> Evaluation {
        // Fresh as the snapshot saw it, and so is everything it reads.
        if !forced, !knownFresh.isEmpty, let key = knownFresh[id], workflow[id].dependencies.allSatisfy({ takenFresh.contains($0) }) {
            takenFresh.insert(id)
            return Evaluation(state: .fresh, key: key, manifest: manifests[id])
        }
        // The step read in place, not copied (see `Workflow.subscript`).
        return workspace.observing(.step(id)) { evaluateNow(id, workflow[id], forced: forced) }
    }

    func evaluateNow(_ id: StepID, _ step: Step, forced: Bool) -> Evaluation {
        if let upstream = step.dependencies.first(where: { isPending[$0.index] }) {
            return Evaluation(state: .stale([.upstreamStale(step: workflow[upstream].name)]))
        }
        var digests: [String: Digest128] = [:]
        var stats: [String: FileStat] = [:]
        var statedDirectories = Set<String>()
        var missing: [String] = []
        for input in step.inputs {
            if let d = digestFromUpstream(input, of: step) {
                digests[input.path] = d
                continue
            }
            do {
                if input.isDirectory || workspace.kind(of: input.path) == .directory {
                    workspace.collectedStats = [:]
                    defer { workspace.collectedStats = nil }
                    digests[input.path] = try directoryInputDigest(input.path, of: step)
                    stats.merge(workspace.collectedStats!) { a, _ in a }
                    statedDirectories.insert(input.path)
                } else {
                    let (d, st) = try workspace.fileDigest(input.path)
                    digests[input.path] = d
                    stats[input.path] = st
                }
            } catch {
                missing.append(input.path)
            }
        }
        // Made only when something reads it: a step whose key was worked out beforehand and
        // that has no previous definition to compare with (a new workspace) does not need it.
        let presetKey = id.index < presetKeys.count ? presetKeys[id.index] : nil
        lazy var definition = StepDefinition(step: step, inputDigests: digests, toolchains: toolchainDigests(step))
        let key = presetKey ?? definition.key
        // What the evaluation keeps besides its state, key and manifest (see `evaluateAll`).
        let kept = dropsDefinitions ? nil : definition
        if dropsDefinitions { (stats, statedDirectories) = ([:], []) }
        if !missing.isEmpty {
            return Evaluation(state: .stale(missing.map { .inputChanged(path: $0, old: records[step.name]?.definition?.inputs[$0], new: nil) }),
                              key: nil, definition: kept)
        }
        if forced {
            return Evaluation(state: .stale([.forced]), key: key, definition: kept, inputStats: stats, statedDirectories: statedDirectories)
        }
        if let manifest = trustedManifest(key, for: step), holdsObjects(of: manifest) {
            let problems = outputProblems(manifest)
            guard !problems.isEmpty else {
                return Evaluation(state: .fresh, key: key, definition: kept, manifest: manifest, inputStats: stats, statedDirectories: statedDirectories)
            }
            // What the workspace holds came from another definition (the record follows the
            // workspace): say what changed since, not only that the outputs differ.
            let changed = records[step.name].map { staleReasons(current: definition, previous: $0.definition) } ?? []
            return Evaluation(state: .restorable(changed.isEmpty ? problems : changed), key: key, definition: kept,
                              manifest: manifest, inputStats: stats, statedDirectories: statedDirectories)
        }
        // No name hashed when there is no record at all (a new workspace).
        let previous = records.isEmpty ? nil : records[step.name]?.definition
        // A preset key means no toolchains, so with no previous definition the reason is known.
        var reasons = previous == nil && presetKey != nil ? Staleness.neverRun : staleReasons(current: definition, previous: previous)
        // The same definition as the last result, which the cache no longer holds.
        if reasons.isEmpty { reasons = [.notInCache] }
        if let remote {
            if fetchFromRemote, let manifest = remote.fetch(key, for: step) {
                let problems = outputProblems(manifest)
                return Evaluation(state: problems.isEmpty ? .fresh : .restorable(reasons + [.inRemoteCache]), key: key,
                                  definition: kept, manifest: manifest, inputStats: stats, statedDirectories: statedDirectories)
            }
            if !fetchFromRemote, let manifest = remote.peek(key, for: step) {
                return Evaluation(state: .stale(reasons + [.inRemoteCache]), key: key, definition: kept, manifest: manifest,
                                  inputStats: stats, statedDirectories: statedDirectories)
            }
        }
        return Evaluation(state: .stale(reasons), key: key, definition: kept, inputStats: stats, statedDirectories: statedDirectories)
    }

    /// The cached manifest of `key`, if there is one that passes `Manifest.problem`: one that does
    /// not is removed (it can only have been damaged or doctored) and reported through `warn`.
    func trustedManifest(_ key: Digest128, for step: Step) -> Manifest? {
        guard let manifest = try? actions.manifest(for: key) else { return nil }
        if let reason = manifest.problem(declared: step.outputs) {
            actions.remove(key)
            warn("\(step.name): \(CorruptManifestError(key: key, reason: reason))")
            return nil
        }
        return manifest
    }

    func holdsObjects(of manifest: Manifest) -> Bool {
        let needed = manifest.objectDigests
        return (try? store.present(needed).count == Set(needed).count) ?? false
    }

    /// An input's digest from the manifest of the upstream step that wrote it, when known.
    func digestFromUpstream(_ input: PathRef, of step: Step) -> Digest128? {
        for dep in step.dependencies {
            guard let manifest = manifest(of: dep) else { continue }
            for out in manifest.outputs {
                if out.path == input.path { return Digest128(hex: out.digest) }
                if out.isDirectory, input.path.hasPrefix(out.path + "/") {
                    let rel = String(input.path.dropFirst(out.path.count + 1))
                    if let e = out.entries?.first(where: { $0.path == rel }) { return Digest128(hex: e.digest) }
                    // A sub-directory of an output directory: its Merkle digest from the entries.
                    let inside = (out.entries ?? []).filter { $0.path.hasPrefix(rel + "/") }
                    if !inside.isEmpty {
                        return ContentHash.tree(inside.compactMap { e in
                            Digest128(hex: e.digest).map {
                                ContentHash.TreeEntry(path: String(e.path.dropFirst(rel.count + 1)), digest: $0, size: e.size, executable: e.executable)
                            }
                        })
                    }
                }
            }
        }
        return nil
    }

    /// Outputs missing from the workspace or different from the manifest.
    public func outputProblems(_ manifest: Manifest) -> [StaleReason] {
        var problems: [StaleReason] = []
        for out in manifest.outputs {
            switch workspace.kind(of: out.path) {
            case .missing:
                problems.append(.outputMissing(path: out.path))
            case .directory where out.isDirectory:
                guard let (d, _) = try? workspace.directoryDigest(out.path), d.hex == out.digest else {
                    problems.append(.outputModified(path: out.path))
                    continue
                }
            case .file where !out.isDirectory:
                guard let (d, _) = try? workspace.fileDigest(out.path), d.hex == out.digest else {
                    problems.append(.outputModified(path: out.path))
                    continue
                }
            default:
                problems.append(.outputModified(path: out.path))
            }
        }
        return problems
    }

    /// Evaluates every step of `targets` (all when empty) in order, as `flow status` shows them:
    /// a step that must run makes its dependents "upstream stale". Without `keepingDefinitions`,
    /// the evaluations keep no `definition` and no input signatures: what a million steps' copies
    /// of their outputs, environment and variables would cost, where only state and key are shown.
    public func evaluateAll(targets: StepSet, forced: Set<StepID>, keepingDefinitions: Bool = true) -> Evaluations {
        var result = Evaluations(stepCount: workflow.steps.count)
        dropsDefinitions = !keepingDefinitions
        presetKeys = Self.selfContainedKeys(workflow)
        defer { (dropsDefinitions, presetKeys) = (false, []) }
        for id in workflow.order where targets.contains(id) {
            // Without `keepingDefinitions`, `evaluateNow` keeps none (`dropsDefinitions`).
            let e = evaluate(id, forced: !forced.isEmpty && forced.contains(id))
            result[id] = e
            switch e.state {
            case .fresh, .restorable: manifests[id] = e.manifest
            // The remote has its result: its dependents' keys are known from it.
            case .stale(let reasons) where reasons.contains(.inRemoteCache) && e.manifest != nil: manifests[id] = e.manifest
            case .stale: isPending[id.index] = true
            }
        }
        return result
    }
}

extension Evaluator {
    /// Takes the steps of `known` (from `FreshSnapshot.Delta.knownFresh`) as fresh without
    /// evaluating them, as long as everything they read was taken so too. The manifests of those
    /// that steps to evaluate read from are loaded first: false, and nothing restricted, when one
    /// is not in the cache as it should be (the full evaluation then says why).
    public func restrict(to known: [StepID: Digest128]) -> Bool {
        var loaded: [StepID: Manifest] = [:]
        for step in workflow.steps where known[step.id] == nil {
            for dep in step.dependencies where known[dep] != nil && loaded[dep] == nil {
                guard let manifest = try? actions.manifest(for: known[dep]!),
                      manifest.problem(declared: workflow[dep].outputs) == nil else { return false }
                loaded[dep] = manifest
            }
        }
        knownFresh = known
        manifests.merge(loaded) { a, _ in a }
        return true
    }

    /// The manifest of a settled dependency: one taken fresh from the snapshot is read from the
    /// cache the first time a step needs it.
    func manifest(of dep: StepID) -> Manifest? {
        if let m = manifests[dep] { return m }
        guard takenFresh.contains(dep), let key = knownFresh[dep], let m = try? actions.manifest(for: key),
              m.problem(declared: workflow[dep].outputs) == nil else { return nil }
        manifests[dep] = m
        return m
    }
}

extension Evaluator {
    /// The key of every step that reads no input and declares no toolchain (nil for the others),
    /// worked out on every core: nothing but the step itself enters it, so it is the key that
    /// `evaluateNow` would compute. At a million steps these keys were a fifth of `flow status`.
    static func selfContainedKeys(_ workflow: Workflow) -> [Digest128?] {
        let steps = workflow.steps
        let chunk = 4096
        guard steps.count > 2 * chunk else { return [] }
        return [Digest128?](unsafeUninitializedCapacity: steps.count) { buffer, count in
            // Each chunk initializes its own slots and no other; all are initialized when
            // concurrentPerform returns, and only then is the buffer read.
            nonisolated(unsafe) let slots = buffer
            DispatchQueue.concurrentPerform(iterations: (steps.count + chunk - 1) / chunk) { c in
                for i in c * chunk..<min(steps.count, (c + 1) * chunk) {
                    let key = steps[i].inputs.isEmpty && steps[i].toolchains.isEmpty
                        ? StepDefinition(step: steps[i], inputDigests: [:]).key : nil
                    slots.initializeElement(at: i, to: key)
                }
            }
            count = steps.count
        }
    }
}
