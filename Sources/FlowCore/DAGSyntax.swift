/// The syntax tree of one .dag file, before variables, includes and fan-out are resolved.
///
/// Every node keeps the location of the text it came from, so that errors found later
/// (an unknown variable, a cycle, a missing input) still point at the right line and column.
public struct DAGFile: Equatable {
    public var path: String
    public var lines: [String]
    public var items: [DAGItem]

    /// The text of line `n` (1-based), for error messages.
    public func line(_ n: Int) -> String { n >= 1 && n <= lines.count ? lines[n - 1] : "" }
}

public enum DAGItem: Equatable {
    case letBinding(LetBinding)
    /// `external NAME = /ABS/PATH`: data outside the workspace that steps may read (never write),
    /// bound like a `let` variable to its absolute path.
    case external(LetBinding)
    case include(Located<String>)
    case step(StepDecl)
}

/// A value with the location of its first character.
public struct Located<Value: Equatable>: Equatable {
    public var value: Value
    public var location: SourceLocation
    public init(_ value: Value, at location: SourceLocation) {
        self.value = value
        self.location = location
    }
}

/// `let NAME = VALUE`
public struct LetBinding: Equatable {
    public var name: Located<String>
    public var value: Located<String>
}

/// `step NAME`, or a fan-out `step NAME[VAR in DOMAIN, VAR in DOMAIN...]`, and its indented
/// attributes.
public struct StepDecl: Equatable {
    public var name: Located<String>
    /// The fan-out's domains, one per variable; several make a product. Empty: a single step.
    public var fanOuts: [FanOut] = []
    public var attributes: [StepAttribute]

    public init(name: Located<String>, fanOuts: [FanOut] = [], attributes: [StepAttribute]) {
        self.name = name
        self.fanOuts = fanOuts
        self.attributes = attributes
    }

    /// True when the step says `allow-empty`: a fan-out of no instances is then not an error.
    public var allowsEmpty: Bool { attributes.contains { $0.kind == .allowEmpty } }
}

public struct FanOut: Equatable {
    public enum Domain: Equatable {
        /// `lower..<upper` (half-open) or `lower...upper` (closed); bounds may use `{var}`.
        case range(lower: Located<String>, upper: Located<String>, closed: Bool)
        /// A glob over files, e.g. `data/raw/*.tar`.
        case glob(Located<String>)
        /// `0.01, 0.1, 1`: values as written (each may use `{var}`).
        case list([Located<String>])
        /// Text that is only classified once its variables are expanded (`{Cs}`): a range if it
        /// holds `..<` or `...`, a list if it holds a comma, a glob if it holds a wildcard or a
        /// `/`, else a list of one value.
        case expression(Located<String>)
    }
    public var variable: Located<String>
    public var domain: Domain

    public init(variable: Located<String>, domain: Domain) {
        self.variable = variable
        self.domain = domain
    }

    /// Where the domain is written, for errors about it.
    public var location: SourceLocation {
        switch domain {
        case .range(let lower, _, _): return lower.location
        case .glob(let g), .expression(let g): return g.location
        case .list(let items): return items.first?.location ?? variable.location
        }
    }
}

/// One indented line inside a step.
public struct StepAttribute: Equatable {
    public enum Kind: Equatable {
        /// `in [NAME =] PATH...`
        case input(name: Located<String>?, paths: [Located<String>])
        /// `out [NAME =] PATH...`; a trailing `/` marks a directory.
        case output(name: Located<String>?, paths: [Located<String>])
        /// `run COMMAND`: the rest of the line, given to `/bin/sh -c`.
        case run(Located<String>)
        /// `op NAME ARGS...`: a built-in op, run as `flow op NAME ARGS...`.
        case op(name: Located<String>, arguments: [Located<String>])
        /// `cpus N`, `mem 4G`, `gpus N`, `time 2h`, `retry N`, `timeout 30m`, `executor slurm`, ...
        case setting(key: Located<String>, value: Located<String>)
        /// `env NAME` (passed through from flow's environment) or `env NAME=VALUE`; several per line.
        case env([EnvEntry])
        /// `after STEP...`
        case after([Located<String>])
        /// `checkpoint`
        case checkpoint
        /// `allow-empty`: a fan-out that expands to no instance is not an error.
        case allowEmpty
        /// `untracked PATH...`: workspace files the command names on purpose without reading them
        /// as inputs (no warning for them).
        case untracked([Located<String>])
        /// `toolchain NAME = EXECUTABLE [ARGS...]`: what the step runs with; the executable's
        /// content, and the output of `EXECUTABLE ARGS...` when arguments are given, enter the key.
        case toolchain(name: Located<String>, command: [Located<String>])
    }
    public var kind: Kind
    public var location: SourceLocation
    /// `metrics [NAME =] PATH...`: outputs (an `.output` kind) that are also metrics files.
    public var isMetrics = false
}

/// One `env` entry: `NAME` passes flow's own value through, `NAME=VALUE` sets it.
public struct EnvEntry: Equatable {
    public var name: Located<String>
    public var value: Located<String>?
}
