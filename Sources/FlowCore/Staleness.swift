import XXHash

/// Why a step must run (a closed set, as llbuild's `RunReason`), printed by `flow status` and
/// `flow explain`.
public enum StaleReason: Equatable, Sendable, CustomStringConvertible {
    case neverRun
    case commandChanged(old: String, new: String)
    case opVersionChanged(op: String, old: Int, new: Int)
    case inputChanged(path: String, old: Digest128?, new: Digest128?)
    case variableChanged(name: String, old: String?, new: String?)
    case environmentChanged(name: String, old: String?, new: String?)
    /// What a `toolchain` is changed: `old` and `new` are digests, or the differing lines of the
    /// version or freeze output when the runtime knows them and they are short.
    case toolchainChanged(name: String, old: String, new: String)
    case outputsChanged(old: [String], new: [String])
    /// An upstream step must run first; this step's inputs are not known until it has.
    case upstreamStale(step: String)
    case outputMissing(path: String)
    case outputModified(path: String)
    case forced
    /// The key is new but no single field explains it (e.g. flow's key encoding changed).
    case definitionChanged
    /// Nothing changed, but the result is no longer in the cache (gc, verify, another cache).
    case notInCache
    /// Not in the local cache, but the remote cache has the result: `flow run` fetches it.
    case inRemoteCache

    public var description: String {
        switch self {
        case .neverRun: return "never run"
        case .commandChanged: return "command changed"
        case .opVersionChanged(let op, let old, let new): return "op \(op) version changed \(old) → \(new)"
        case .inputChanged(let path, let old, let new):
            if old == nil { return "input added: \(path)" }
            if new == nil { return "input removed: \(path)" }
            return "input changed: \(path)"
        case .variableChanged(let name, let old, let new): return "variable \(name) changed \(old ?? "unset") → \(new ?? "unset")"
        case .environmentChanged(let name, let old, let new): return "env \(name) changed \(old ?? "unset") → \(new ?? "unset")"
        case .toolchainChanged(let name, let old, let new): return "toolchain \(name) changed: \(old) → \(new)"
        case .outputsChanged: return "declared outputs changed"
        case .upstreamStale(let step): return "upstream \(step) must run"
        case .outputMissing(let path): return "output missing: \(path)"
        case .outputModified(let path): return "output modified: \(path)"
        case .forced: return "forced"
        case .definitionChanged: return "definition changed"
        case .notInCache: return "result no longer in the cache"
        case .inRemoteCache: return "restorable from the remote cache"
        }
    }

    /// The full explanation, with old and new values (`flow explain`).
    public var detail: String {
        switch self {
        case .commandChanged(let old, let new): return "command changed\n    - \(old)\n    + \(new)"
        case .inputChanged(let path, let old, let new):
            return "input changed: \(path)\n    - \(old?.hex ?? "(absent)")\n    + \(new?.hex ?? "(absent)")"
        case .outputsChanged(let old, let new):
            return "declared outputs changed\n    - \(old.joined(separator: " "))\n    + \(new.joined(separator: " "))"
        default: return description
        }
    }
}

/// The state of a step, as `flow status` shows it.
public enum StepState: Equatable, Sendable {
    /// Cached, and its outputs in the workspace match.
    case fresh
    /// Cached, but outputs are missing or edited: `flow run` restores them without running.
    case restorable([StaleReason])
    /// Must run.
    case stale([StaleReason])

    /// Fresh or restorable: the step's result is known without running it.
    public var isKnown: Bool {
        if case .stale = self { return false }
        return true
    }

    public var label: String {
        switch self {
        case .fresh: return "fresh"
        case .restorable: return "restorable"
        case .stale: return "stale"
        }
    }

    public var reasons: [StaleReason] {
        switch self {
        case .fresh: return []
        case .restorable(let r), .stale(let r): return r
        }
    }
}

public enum Staleness {
    /// The reasons of a step never run: one array that every such step's state shares, not one
    /// each (a million in a new workspace).
    public static let neverRun: [StaleReason] = [.neverRun]

    /// Why `current` differs from `previous`, the definition of the step's last recorded run.
    /// Variables are compared first: a changed variable explains the changed command it caused.
    public static func reasons(current: StepDefinition, previous: StepDefinition?) -> [StaleReason] {
        guard let previous else { return neverRun }
        var reasons: [StaleReason] = []
        for name in Set(current.variables.keys).union(previous.variables.keys).sorted()
        where current.variables[name] != previous.variables[name] {
            reasons.append(.variableChanged(name: name, old: previous.variables[name], new: current.variables[name]))
        }
        switch (previous.action, current.action) {
        case (.op(let oldName, let oldVersion, let oldArgs), .op(let newName, let newVersion, let newArgs)) where oldName == newName:
            if oldVersion != newVersion { reasons.append(.opVersionChanged(op: newName, old: oldVersion, new: newVersion)) }
            if oldArgs != newArgs && reasons.isEmpty {
                reasons.append(.commandChanged(old: Step.render(previous.action), new: Step.render(current.action)))
            }
        default:
            if previous.action != current.action && !reasons.contains(where: { if case .variableChanged = $0 { return true }; return false }) {
                reasons.append(.commandChanged(old: Step.render(previous.action), new: Step.render(current.action)))
            }
        }
        for name in Set(current.environment.keys).union(previous.environment.keys).sorted()
        where current.environment[name] != previous.environment[name] {
            reasons.append(.environmentChanged(name: name, old: previous.environment[name], new: current.environment[name]))
        }
        for name in Set(current.toolchains.keys).union(previous.toolchains.keys).sorted()
        where current.toolchains[name] != previous.toolchains[name] {
            reasons.append(.toolchainChanged(name: name, old: previous.toolchains[name]?.hex ?? "none", new: current.toolchains[name]?.hex ?? "none"))
        }
        if current.outputs.sorted() != previous.outputs.sorted() {
            reasons.append(.outputsChanged(old: previous.outputs.sorted(), new: current.outputs.sorted()))
        }
        for path in Set(current.inputs.keys).union(previous.inputs.keys).sorted()
        where current.inputs[path] != previous.inputs[path] {
            reasons.append(.inputChanged(path: path, old: previous.inputs[path], new: current.inputs[path]))
        }
        if reasons.isEmpty && current.key != previous.key { reasons.append(.definitionChanged) }
        return reasons
    }
}

extension Step {
    /// An action as a command line.
    public static func render(_ action: Action) -> String {
        switch action {
        case .shell(let command): return command
        case .op(let name, _, let arguments): return (["flow", "op", name] + arguments.map(ShellQuote.quote)).joined(separator: " ")
        }
    }
}
