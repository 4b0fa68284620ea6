import XXHash

/// Everything that decides a step's result: the action after interpolation (command, or op name,
/// version and arguments), its environment, its declared outputs, and the content of every input.
///
/// Resources, comments, retries and the step's name do not enter it: asking for more memory, or
/// renaming a step, must not rerun anything. Because inputs enter by content, a step whose
/// upstream reran and wrote identical bytes keeps its key (early cutoff).
public struct StepDefinition: Equatable, Sendable {
    public var action: Action
    public var environment: [String: String]
    /// Declared outputs, directories with a trailing `/`.
    public var outputs: [String]
    /// Input path → content digest (a directory's is its Merkle digest).
    public var inputs: [String: Digest128]
    /// The `let` variables used and their values. They are already in the interpolated action;
    /// they are kept to explain staleness ("variable seed changed 0 → 1"), not hashed again.
    public var variables: [String: String]
    /// Toolchain name → digest of what it is (the executable's content, the output of its
    /// version or freeze command). Empty for a step that declares none, whose key is then what
    /// it was before toolchains existed.
    public var toolchains: [String: Digest128]

    public init(action: Action, environment: [String: String], outputs: [String], inputs: [String: Digest128], variables: [String: String],
                toolchains: [String: Digest128] = [:]) {
        self.action = action
        self.environment = environment
        self.outputs = outputs
        self.inputs = inputs
        self.variables = variables
        self.toolchains = toolchains
    }

    public init(step: borrowing Step, inputDigests: [String: Digest128], toolchains: [String: Digest128] = [:]) {
        self.init(action: step.action, environment: step.environment,
                  outputs: step.outputs.map { $0.isDirectory ? $0.path + "/" : $0.path },
                  inputs: inputDigests, variables: step.variables, toolchains: toolchains)
    }

    /// The action key: XXH3-128 of the canonical text below. Version line first, so that a change
    /// of this encoding can never collide with keys of an older flow.
    public var key: Digest128 {
        XXH128.hash(canonicalText)
    }

    /// A length-prefixed, sorted, line-based encoding: unambiguous whatever the strings contain.
    public var canonicalText: String {
        var s = "flow-action-key v1\n"
        s.reserveCapacity(256)
        // Appended piece by piece, not as an interpolated line per field: the same bytes, less work.
        func field(_ tag: String, _ value: String) {
            s += tag
            s += " "
            s += String(value.utf8.count)
            s += ":"
            s += value
            s += "\n"
        }
        switch action {
        case .shell(let command):
            field("shell", command)
        case .op(let name, let version, let arguments):
            field("op", name)
            field("version", String(version))
            for a in arguments { field("arg", a) }
        }
        // Nothing to sort in one entry or none (most steps): no sorted copy made for them.
        if environment.count > 1 {
            for (k, v) in environment.sorted(by: { $0.key < $1.key }) { field("env", k + "=" + v) }
        } else if let (k, v) = environment.first {
            field("env", k + "=" + v)
        }
        for o in outputs.count > 1 ? outputs.sorted() : outputs { field("out", o) }
        for (path, digest) in inputs.sorted(by: { $0.key < $1.key }) { field("in", path + " " + digest.hex) }
        for (name, digest) in toolchains.sorted(by: { $0.key < $1.key }) { field("toolchain", name + " " + digest.hex) }
        return s
    }
}
