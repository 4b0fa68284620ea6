/// A step's dense index into `Workflow.steps`.
public struct StepID: RawRepresentable, Hashable, Comparable, Sendable {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    init(_ index: Int) { rawValue = Int32(index) }
    @inlinable public var index: Int { Int(rawValue) }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// What a step does.
public enum Action: Equatable, Sendable {
    /// A shell command, run as `/bin/sh -c COMMAND`.
    case shell(String)
    /// A built-in op, run as `flow op NAME ARGS...`; `version` enters the action key.
    case op(name: String, version: Int, arguments: [String])
}

/// A path a step reads or writes, relative to the workspace root, normalized (no `.`, `..`, `//`).
/// Directory paths carry no trailing slash; `isDirectory` says what the .dag declared or what exists.
public struct PathRef: Hashable, Sendable {
    public var path: String
    public var isDirectory: Bool
    /// The name given in the .dag (`in model = ...` → "model"), if any.
    public var name: String?

    public init(path: String, isDirectory: Bool, name: String? = nil) {
        self.path = path
        self.isDirectory = isDirectory
        self.name = name
    }

    /// True when `other` is this path or lies inside it (for directories).
    public func contains(_ other: String) -> Bool {
        other == path || (isDirectory && (path.isEmpty || other.hasPrefix(path + "/")))
    }

    /// An absolute path: data under an `external` root, read where it lives.
    public var isExternal: Bool { path.hasPrefix("/") }
}

/// Resources a step asks for: the scheduler never runs steps whose sum exceeds the machine's.
/// They do not enter the action key: asking for more memory must not rerun anything.
public struct Resources: Equatable, Sendable {
    public var cpus: Int = 1
    /// Bytes; 0 means not declared.
    public var memory: Int64 = 0
    public var gpus: Int = 0
    /// Wall-time limit requested from a cluster scheduler, in seconds; 0 means none.
    public var time: Int = 0
    public init() {}
}

/// One step instance: for fan-out steps, one per item (`embed[3]`).
///
/// What is usually the same in every instance of a fan-out (base name, location, resources,
/// environment, settings, toolchains, variables, `after`) is held in one immutable `Shared` value
/// that the loader gives to every instance with equal fields; the instance itself holds only its
/// name, action, paths and edges. A million instances of one fan-out are then a million small
/// values and one `Shared`, not a million copies of every field (about 1.6 KB each). The shared
/// fields read and write as properties; a write gives this instance its own copy.
public struct Step: Equatable, Sendable {
    public var id: StepID
    /// The instance name, unique in the workflow: `pool`, `embed[3]`, `thumb[data/raw/a.png]`.
    public var name: String
    public var action: Action
    public var inputs: [PathRef]
    public var outputs: [PathRef]
    /// Steps whose outputs this step reads, or that it must follow (`after`); sorted.
    public var dependencies: [StepID] = []
    /// The inverse edges.
    public var dependents: [StepID] = []
    /// The fan-out values when the name does not carry them (a product of domains, or set by
    /// hand); nil when they are read from the name (`Shared.parameterName`).
    var explicitParameters: [Parameter]?
    var storage: SharedStorage

    /// The fields a fan-out's instances usually share; one value, referenced by each of them.
    struct Shared: Equatable, Sendable {
        var baseName: String
        var location: SourceLocation
        var resources = Resources()
        var environment: [String: String] = [:]
        var retries = 0
        var timeout = 0
        var checkpoint = false
        var metrics: [String] = []
        var executor: ExecutorKind?
        var cluster = ClusterSettings()
        var after: [StepID] = []
        var toolchains: [Toolchain] = []
        var variables: [String: String] = [:]
        /// The fan-out variable of a one-domain fan-out, whose value is the instance label in
        /// the name (`s[7]`: i = 7); nil otherwise.
        var parameterName: String?
    }

    /// Immutable: instances that share one are never changed through it.
    final class SharedStorage: Sendable {
        let value: Shared
        init(_ value: Shared) { self.value = value }
    }

    public init(id: StepID, name: String, baseName: String, location: SourceLocation, action: Action, inputs: [PathRef], outputs: [PathRef]) {
        self.init(id: id, name: name, action: action, inputs: inputs, outputs: outputs,
                  storage: SharedStorage(Shared(baseName: baseName, location: location)))
    }

    init(id: StepID, name: String, action: Action, inputs: [PathRef], outputs: [PathRef], storage: SharedStorage) {
        self.id = id
        self.name = name
        self.action = action
        self.inputs = inputs
        self.outputs = outputs
        self.storage = storage
    }

    /// Changes this instance's shared fields: a new `SharedStorage`, the old one stays as it is.
    mutating func modifyShared(_ change: (inout Shared) -> Void) {
        var value = storage.value
        change(&value)
        storage = SharedStorage(value)
    }

    /// The name in the `step` line, shared by every instance of a fan-out.
    public var baseName: String {
        get { storage.value.baseName }
        set { modifyShared { $0.baseName = newValue } }
    }
    public var location: SourceLocation {
        get { storage.value.location }
        set { modifyShared { $0.location = newValue } }
    }
    public var resources: Resources {
        get { storage.value.resources }
        set { modifyShared { $0.resources = newValue } }
    }
    /// Environment variables given to the step; each enters the action key.
    public var environment: [String: String] {
        get { storage.value.environment }
        set { modifyShared { $0.environment = newValue } }
    }
    public var retries: Int {
        get { storage.value.retries }
        set { modifyShared { $0.retries = newValue } }
    }
    /// Seconds; 0 means no limit.
    public var timeout: Int {
        get { storage.value.timeout }
        set { modifyShared { $0.timeout = newValue } }
    }
    public var checkpoint: Bool {
        get { storage.value.checkpoint }
        set { modifyShared { $0.checkpoint = newValue } }
    }
    /// Outputs that are metrics files (JSON or YAML), for `flow metrics`.
    public var metrics: [String] {
        get { storage.value.metrics }
        set { modifyShared { $0.metrics = newValue } }
    }
    /// Where the step runs when it says (`executor`); nil follows `flow run --executor`.
    public var executor: ExecutorKind? {
        get { storage.value.executor }
        set { modifyShared { $0.executor = newValue } }
    }
    /// Cluster settings (`partition`, `account`, `qos`, `constraint`, `sbatch`).
    public var cluster: ClusterSettings {
        get { storage.value.cluster }
        set { modifyShared { $0.cluster = newValue } }
    }
    /// Explicit ordering edges from `after`.
    public var after: [StepID] {
        get { storage.value.after }
        set { modifyShared { $0.after = newValue } }
    }
    /// What the step runs with (`toolchain`), in declaration order; each enters the key.
    public var toolchains: [Toolchain] {
        get { storage.value.toolchains }
        set { modifyShared { $0.toolchains = newValue } }
    }
    /// The `let` variables this step's definition used, with their values (for "variable changed").
    public var variables: [String: String] {
        get { storage.value.variables }
        set { modifyShared { $0.variables = newValue } }
    }

    /// The fan-out variables of this instance and their values, in the order of the domains
    /// (`[("C", "0.1"), ("seed", "2")]`), for tables of a sweep.
    public var parameters: [Parameter] {
        get {
            if let explicitParameters { return explicitParameters }
            guard let variable = storage.value.parameterName else { return [] }
            // `base[label]`: a one-domain fan-out's label is its value.
            let label = name.utf8.dropFirst(storage.value.baseName.utf8.count + 1).dropLast()
            return [Parameter(name: variable, value: String(Substring(label)))]
        }
        set { explicitParameters = newValue }
    }

    /// The text of the action: what `flow explain` shows as the command.
    public var commandLine: String {
        switch action {
        case .shell(let command): return command
        case .op(let name, _, let arguments): return (["flow", "op", name] + arguments.map(ShellQuote.quote)).joined(separator: " ")
        }
    }

    public static func == (a: Step, b: Step) -> Bool {
        a.id == b.id && a.name == b.name && a.action == b.action && a.inputs == b.inputs && a.outputs == b.outputs &&
            a.dependencies == b.dependencies && a.dependents == b.dependents && a.parameters == b.parameters &&
            (a.storage === b.storage || a.storage.value == b.storage.value)
    }
}

/// The loaded workflow: every step instance with its edges, in a topological order.
public struct Workflow: Sendable {
    public var steps: [Step]
    /// Step ids, dependencies before dependents; ties broken by definition order.
    public var order: [StepID]
    /// The values of every `let` variable after `--set` overrides.
    public var variables: [String: String]
    /// The .dag files read, the main one first (their text is part of nothing's key: only steps are).
    public var files: [String]
    /// Steps whose instances are not known yet: a fan-out over files that another step writes
    /// (or a step that reads what such a fan-out writes). They expand once `after` has a result,
    /// in the same run: the runner loads the workflow again then.
    public var deferred: [DeferredStep] = []
    /// Warnings found in loading (a `run` command that names a workspace file it does not
    /// declare), printed by `flow run` and `flow status`; they stop nothing.
    public var warnings: [DAGError] = []
    /// The `external` data roots, in declaration order.
    public var externals: [ExternalRoot] = []

    /// Inlinable and yielded in place, so that reading one field of a step (`workflow[id].name`)
    /// or passing it on does not copy the whole `Step` (a retain of every field, and of the
    /// `Shared` storage that a fan-out's instances share, which threads then contend for): that
    /// copy was a fifth of `flow status` on 100,000 steps.
    @inlinable public subscript(id: StepID) -> Step {
        _read { yield steps[id.index] }
    }

    /// Which workflow this is, for what the state records per workflow: its main .dag file.
    public var id: String { files.first ?? "" }

    public func step(named name: String) -> Step? { steps.first { $0.name == name } }

    /// The steps named by `targets` (an instance name, or a base name for all its instances),
    /// plus everything they need. All steps when `targets` is empty.
    public func closure(of targets: [StepID]) -> StepSet {
        if targets.isEmpty { return StepSet(all: steps.count) }
        var seen = StepSet()
        var stack = targets
        while let id = stack.popLast() {
            guard seen.insert(id) else { continue }
            stack += self[id].dependencies
        }
        return seen
    }

    /// Every step downstream of `ids` (not including them).
    public func downstream(of ids: Set<StepID>) -> Set<StepID> {
        var seen = Set<StepID>()
        var stack = Array(ids)
        while let id = stack.popLast() {
            for d in self[id].dependents where seen.insert(d).inserted { stack.append(d) }
        }
        return seen
    }

    /// `NAME:VALUE` is `NAME[VALUE]`: an instance name typed without shell quoting.
    public static func instanceName(_ typed: String) -> String {
        guard !typed.contains("["), let colon = typed.firstIndex(of: ":") else { return typed }
        return typed[..<colon] + "[" + typed[typed.index(after: colon)...] + "]"
    }

    /// Resolves target names (instance or base names) to ids; unknown names come back in `unknown`.
    public func resolve(targets: [String]) -> (ids: [StepID], unknown: [String]) {
        var ids: [StepID] = []
        var unknown: [String] = []
        for t in targets.map(Workflow.instanceName) {
            let matches = steps.filter { $0.name == t || $0.baseName == t }
            if matches.isEmpty { unknown.append(t) } else { ids += matches.map(\.id) }
        }
        return (ids, unknown)
    }
}

/// POSIX shell quoting, for showing argument vectors as command lines and for inserting values
/// into `run` commands.
public enum ShellQuote {
    /// `value` as the shell must see it to read it back as exactly that text where it stands:
    /// one quoted word outside quotes, escaped for "...", and closed-and-reopened for '...'.
    static func quote(_ value: String, in context: ShellContext) -> String {
        var quoted = quote(value, quoting: context.quoting)
        // Each enclosing backquoted command removes one level of backslashes before ` and \.
        for level in context.levels.reversed() where level == .backquote {
            var escaped = ""
            for c in quoted.unicodeScalars {
                if c == "\\" || c == "`" { escaped.unicodeScalars.append("\\") }
                escaped.unicodeScalars.append(c)
            }
            quoted = escaped
        }
        return quoted
    }

    static func quote(_ value: String, quoting: ShellContext.Quoting) -> String {
        switch quoting {
        case .bare: return quote(value)
        case .singleQuoted: return value.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''")
        case .doubleQuoted:
            var out = ""
            for c in value.unicodeScalars {
                if c == "\\" || c == "\"" || c == "$" || c == "`" { out.unicodeScalars.append("\\") }
                out.unicodeScalars.append(c)
            }
            return out
        }
    }

    public static func quote(_ s: String) -> String {
        if !s.isEmpty, s.unicodeScalars.allSatisfy({ Tokenizer.isNameScalar($0) || "./=:,+@%^".unicodeScalars.contains($0) }) {
            return s
        }
        return "'" + s.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }
}

/// A step that expands only once another step's result is known ("expands after split").
public struct DeferredStep: Equatable, Sendable {
    public var baseName: String
    /// The step instance whose result it waits for.
    public var after: String
    public var location: SourceLocation
    /// A fan-out (`stats[*]`), or one step that reads what one writes (`report`).
    public var isFanOut: Bool
    /// The steps it reads from, by base name, as far as the .dag says before it expands: the
    /// step it waits for, the steps it gathers or names in `after`, those that write where its
    /// inputs' paths lead; some may be deferred too. `flow graph` draws these edges.
    public var reads: [String] = []

    /// How `flow status` shows it.
    public var displayName: String { isFanOut ? baseName + "[*]" : baseName }
}

/// One fan-out variable's value in a step instance.
public struct Parameter: Equatable, Sendable {
    public var name: String
    public var value: String
}
