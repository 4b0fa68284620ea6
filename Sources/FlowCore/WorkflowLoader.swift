/// Turns .dag files into a `Workflow`: includes, variables and `--set` overrides, fan-out,
/// interpolation, path checks, edges from paths, and cycle detection.
///
/// Every problem is reported with its location; nothing is run when any is found.
public struct WorkflowLoader {
    public var workspace: any WorkspaceView
    public var ops: any OpCatalog
    /// flow's own environment, for `env NAME` pass-through.
    public var environment: [String: String]
    /// Whether the instances of a fan-out after the first take the fast path (`FanOutPlan`);
    /// off only in tests that compare it with the general path.
    var usesFanOutPlans = true
    /// `LoaderState.maxExpandedBytes`; smaller only in tests that cross it.
    var expansionLimit = LoaderState.maxExpandedBytes
    /// How many instances of a fan-out are rendered before the loader takes them (a bound on
    /// what is held; the next batch renders while one is taken); smaller only in tests.
    var fanOutBatch = 1 << 16

    public init(workspace: any WorkspaceView, ops: any OpCatalog, environment: [String: String] = [:]) {
        self.workspace = workspace
        self.ops = ops
        self.environment = environment
    }

    /// A `--set` naming no variable, or malformed: a usage error (exit 64) with no source location.
    public struct UsageError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { "error: \(message)" }
    }

    public func load(file: String, overrides: [String: String] = [:]) throws -> Workflow {
        var state = LoaderState(loader: self)
        try state.read(file: file, includedFrom: nil)
        if !state.errors.isEmpty { throw DAGErrors(state.errors) }
        state.bindVariables(overrides: overrides)
        let unknown = overrides.keys.filter { state.variables[$0] == nil }.sorted()
        if let name = unknown.first {
            throw UsageError(message: "--set \(name): no variable '\(name)' in \(file)\(Spellcheck.hint(for: name, among: state.variables.keys))")
        }
        state.elaborateSteps()
        if state.errors.isEmpty { state.link() }
        if !state.errors.isEmpty { throw DAGErrors(state.errors) }
        return state.workflow()
    }
}

/// The loader's working state for one load.
struct LoaderState {
    let loader: WorkflowLoader
    var files: [DAGFile] = []
    var fileOrder: [String] = []
    var errors: [DAGError] = []
    /// How many errors were reported, those dropped as repeats included.
    var errorReports = 0
    /// How many step instances the fast path made (`FanOutPlan`), for tests.
    var plannedInstances = 0
    /// Items in order, with the file they came from.
    var items: [(file: Int, item: DAGItem)] = []
    var variables: [String: String] = [:]
    /// Templates parsed so far, by their text (see `parsedTemplate`).
    var parsedTemplates: [String: Result<Template, TemplateError>] = [:]
    /// For each variable, the variables it was computed from (itself included), transitively.
    var variableSources: [String: Set<String>] = [:]
    /// The `external` data roots, with where each is declared.
    var externals: [(root: ExternalRoot, location: SourceLocation)] = []
    var steps: [Step] = []
    /// For each step, the attribute locations needed by `link()`: inputs' and `after` names' locations.
    var inputLocations: [[SourceLocation]] = []
    var outputLocations: [[SourceLocation]] = []
    var afterNames: [[Located<String>]] = []
    var fanOutItems: [String?] = []
    /// The step declarations by base name, in file order, and how far each is elaborated.
    var decls: [StepDecl] = []
    var declIndex: [String: Int] = [:]
    var declDone: [Bool] = []
    var declBusy: [Bool] = []
    var declaredOutputsCache: [DeclaredOutput]?
    var globInputCache: [String: [String]] = [:]
    var warnings: [(step: String, warning: DAGError)] = []
    var warnedDecls: Set<String> = []
    /// The errors found in elaborating each step, by base name (dropped if the step is deferred).
    var declErrors: [String: [DAGError]] = [:]
    /// Set on the scratch copy that lists declared outputs.
    var listingDeclaredOutputs = false
    /// The step being elaborated, by base name.
    var currentDecl = ""
    /// Steps whose fan-out can only be expanded once another step's result is known, by base
    /// name, with that step and where the fan-out is written (see `Workflow.deferred`).
    var deferred: [String: (after: String, location: SourceLocation)] = [:]
    /// For each deferred step, the steps it reads from by base name, as far as they are known
    /// before it expands (`DeferredStep.reads`).
    var deferredReads: [String: Set<String>] = [:]
    /// Step instances made so far, against `maxInstances`.
    var instanceCount = 0
    /// The most step instances one workflow may have: every instance costs memory and time to
    /// evaluate, and a typo (`0..<10000000`) should be an error, not an exhausted machine.
    static let maxInstances = 1_000_000
    /// Bytes of text that values, paths and commands have expanded to so far, against
    /// `maxExpandedBytes`.
    var expandedBytes = 0
    /// The most text a workflow may expand to, all step instances together: each value is
    /// bounded (`Template.maxRenderedLength`), but a fan-out repeats it in every instance.
    static let maxExpandedBytes = 256 << 20
    /// Set once `maxExpandedBytes` is crossed (and reported): nothing more is expanded.
    var expansionExceeded = false
    /// The steps in dependency order, as `checkCycles` found it when there is no cycle.
    var order: [StepID]?

    init(loader: WorkflowLoader) { self.loader = loader }

    // MARK: errors

    func sourceLine(_ location: SourceLocation) -> String {
        files.first { $0.path == location.file }?.line(location.line) ?? ""
    }

    mutating func error(_ message: String, at location: SourceLocation, notes: [String] = []) {
        errorReports += 1
        // Every instance of a fan-out would report the same error at the same place: once is enough.
        if let last = errors.last, last.location == location, last.message == message { return }
        errors.append(DAGError(message, at: location, sourceLine: sourceLine(location), notes: notes))
    }

    func shifted(_ location: SourceLocation, by offset: Int) -> SourceLocation {
        var l = location
        l.column += offset
        return l
    }

    // MARK: files and includes

    /// How deep includes may nest: deeper is almost surely a mistake, and the limit keeps a
    /// hostile chain from exhausting the stack.
    static let maxIncludeDepth = 64

    mutating func read(file: String, includedFrom: Located<String>?, depth: Int = 0) throws {
        if let inc = includedFrom {
            if file.hasPrefix("/") || file.hasPrefix("~") {
                error("include path '\(file)' is absolute: an included file must be inside the workspace", at: inc.location)
                return
            }
            if depth > Self.maxIncludeDepth {
                error("includes nest more than \(Self.maxIncludeDepth) deep", at: inc.location)
                return
            }
        }
        guard let path = WorkspacePath.normalize(file) ?? (file.hasPrefix("/") && includedFrom == nil ? file : nil) else {
            if let inc = includedFrom { error("include path '\(file)' escapes the workspace", at: inc.location) }
            return
        }
        if let inc = includedFrom, loader.workspace.isOwnedByFlow(path) {
            error(Self.ownedMessage(path), at: inc.location)
            return
        }
        // A link may lead anywhere: what counts is where the file really is.
        if let inc = includedFrom, let real = loader.workspace.realPath(path), real.hasPrefix("/") {
            error("include path '\(file)' leads outside the workspace (to '\(real)'): an included file must be inside the workspace",
                  at: inc.location)
            return
        }
        if fileOrder.contains(path) {
            if let inc = includedFrom { error("'\(file)' is included more than once (or includes itself)", at: inc.location) }
            return
        }
        let text: String
        do {
            text = try loader.workspace.readText(path)
        } catch {
            if let inc = includedFrom {
                self.error("cannot read included file '\(file)': \(error)", at: inc.location)
                return
            }
            throw WorkflowLoader.UsageError(message: "cannot read workflow file '\(file)': \(error)")
        }
        fileOrder.append(path)
        let parsed: DAGFile
        do {
            parsed = try DAGParser.parse(source: text, file: path)
        } catch let e as DAGErrors {
            // Keep the file so later errors can show its lines; syntax errors stop here.
            files.append(DAGFile(path: path, lines: text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init), items: []))
            errors += e.errors
            return
        }
        files.append(parsed)
        let index = files.count - 1
        for item in parsed.items {
            if case .include(let inc) = item {
                try read(file: inc.value, includedFrom: inc, depth: depth + 1)
            } else {
                items.append((index, item))
            }
        }
    }

    static func ownedMessage(_ path: String) -> String {
        "'\(path.isEmpty ? "." : path)' is flow's own directory or holds it (its state or its cache): no step may read or write there"
    }

    // MARK: variables

    mutating func bindVariables(overrides: [String: String]) {
        var firstDefinition: [String: SourceLocation] = [:]
        for (_, item) in items {
            let binding: LetBinding, isExternal: Bool
            switch item {
            case .letBinding(let b): (binding, isExternal) = (b, false)
            case .external(let b): (binding, isExternal) = (b, true)
            case .include, .step: continue
            }
            let name = binding.name.value
            if let first = firstDefinition[name] {
                error("variable '\(name)' is already defined", at: binding.name.location,
                      notes: ["\(first): note: first defined here"])
                continue
            }
            firstDefinition[name] = binding.name.location
            // An external root is checked once bound (a `--set` may move it: another mount point).
            defer { if isExternal { declareExternal(binding) } }
            if let value = overrides[name] {
                variables[name] = value
                variableSources[name] = [name]
                continue
            }
            var used: Set<String> = [name]
            if let value = render(binding.value, extra: [:], used: &used) {
                variables[name] = value
            } else {
                variables[name] = ""
            }
            variableSources[name] = used
        }
    }

    /// Checks an `external` declaration, whose variable is bound already, and records its root.
    mutating func declareExternal(_ binding: LetBinding) {
        let name = binding.name.value
        guard let value = variables[name], let root = ExternalRoot.normalizeAbsolute(value) else {
            error("external '\(name)' must be an absolute path, not '\(variables[name] ?? "")': it names data outside the workspace " +
                  "(data inside it is read by its relative path)", at: binding.value.location)
            return
        }
        guard root != "/" else {
            error("external '\(name)' cannot be the whole file system ('/'): name the directory that holds the data", at: binding.value.location)
            return
        }
        variables[name] = root
        externals.append((ExternalRoot(name: name, path: root), binding.name.location))
    }

    /// Where a path written in a step stands: in the workspace (normalized), under an external
    /// root (absolute, normalized), or outside both (nil).
    func resolvePath(_ text: String) -> (path: String, external: ExternalRoot?)? {
        if let norm = WorkspacePath.normalize(text) { return (norm, nil) }
        guard let abs = ExternalRoot.normalizeAbsolute(text), let root = externals.first(where: { $0.root.contains(abs) })?.root else { return nil }
        return (abs, root)
    }

    /// The error for a path that leaves the workspace; for an absolute one, how to declare it.
    func escapeMessage(_ text: String) -> String {
        guard text.hasPrefix("/") else { return "path '\(text)' escapes the workspace (paths are relative to the workspace root)" }
        let dir = ExternalRoot.normalizeAbsolute(text).map { WorkspacePath.isGlob($0) ? WorkspacePath.directory($0) : $0 } ?? text
        return "path '\(text)' escapes the workspace (paths are relative to the workspace root); to read data that lives " +
               "outside it, declare it at the top level, 'external data = \(dir.isEmpty ? "/" : dir)', and read it as 'in {data}'"
    }

    /// Renders a located template against the variables plus `extra` bindings; records which
    /// `let` variables it used (transitively) in `used`. Reports errors at the right column.
    /// With `shell`, the text is a `run` command: every value is quoted so that the shell reads it
    /// back as exactly that text, wherever it stands (outside quotes, or inside "..." or '...'),
    /// unless written `{NAME:raw}`. Outside quotes, a path list (`{in}`, `{out}`, `{in.X}`,
    /// `{out.X}`, in `pathLists`) becomes one word per path.
    mutating func render(_ text: Located<String>, extra: [String: String], used: inout Set<String>, shell: Bool = false,
                         pathLists: [String: [String]] = [:]) -> String? {
        if expansionExceeded { return nil }
        let template: Template
        switch parsedTemplate(text.value) {
        case .success(let t): template = t
        case .failure(let e):
            error(e.message, at: shifted(text.location, by: e.offset))
            return nil
        }
        let vars = variables, sources = variableSources
        var touched: Set<String> = []
        let result = template.render({ name in
            if let v = extra[name] { return v }
            if let v = vars[name] {
                touched.formUnion(sources[name] ?? [name])
                return v
            }
            return nil
        }, finish: { name, format, value, context in
            guard shell, format != Template.rawFormat else { return value }
            if let paths = pathLists[name], context.quoting == .bare { return paths.map { ShellQuote.quote($0) }.joined(separator: " ") }
            return ShellQuote.quote(value, in: context)
        })
        used.formUnion(touched)
        switch result {
        case .success(let s):
            expandedBytes += s.utf8.count
            guard expandedBytes <= loader.expansionLimit else {
                expansionExceeded = true
                error("with this, the workflow expands to more than \(loader.expansionLimit >> 20) MiB of text (commands, paths and " +
                      "values of all step instances together): a long value in a large fan-out?", at: text.location)
                return nil
            }
            return s
        case .failure(let e):
            if let name = e.unknownName {
                let candidates = Array(vars.keys) + Array(extra.keys)
                let what: String
                if name.hasPrefix("in.") || name.hasPrefix("out.") {
                    what = "unknown \(name.hasPrefix("in.") ? "input" : "output") name '{\(name)}'"
                } else {
                    what = "unknown variable '{\(name)}'"
                }
                error(what + Spellcheck.hint(for: name, among: candidates), at: shifted(text.location, by: e.offset + 1))
            } else {
                error(e.message, at: shifted(text.location, by: e.offset))
            }
            return nil
        }
    }

    // MARK: steps

    mutating func elaborateSteps() {
        var firstDefinition: [String: SourceLocation] = [:]
        for (_, item) in items {
            guard case .step(let decl) = item else { continue }
            let base = decl.name.value
            if let first = firstDefinition[base] {
                error("duplicate step '\(base)'", at: decl.name.location, notes: ["\(first): note: first defined here"])
                continue
            }
            firstDefinition[base] = decl.name.location
            declIndex[base] = decls.count
            decls.append(decl)
        }
        declDone = Array(repeating: false, count: decls.count)
        declBusy = Array(repeating: false, count: decls.count)
        for i in decls.indices where !expansionExceeded { elaborateDecl(i) }
    }

    /// Elaborates every instance of one step, after the steps it gathers (`in STEP[*]`), so
    /// that their instances are known whatever the order of the file.
    mutating func elaborateDecl(_ i: Int) {
        guard !declDone[i] else { return }
        let decl = decls[i]
        guard !declBusy[i] else {
            error("step '\(decl.name.value)' gathers from itself, through other gathers", at: decl.name.location)
            return
        }
        declBusy[i] = true
        for base in Gather.bases(in: decl) where base != decl.name.value {
            if let j = declIndex[base] { elaborateDecl(j) }
        }
        currentDecl = decl.name.value
        let errorCount = errors.count
        elaborateInstances(of: decl)
        declErrors[decl.name.value] = Array(errors[errorCount...])
        declBusy[i] = false
        declDone[i] = true
    }

    /// An output some instance declares, with that instance's name.
    struct DeclaredOutput {
        var path: String
        var isDirectory: Bool
        var step: String
    }

    /// The outputs of every instance of every step, sorted by path, for globs over produced files:
    /// computed once, on a scratch copy of this state (its errors are reported by the real
    /// elaboration; fan-outs over produced files count as globs over the workspace there).
    mutating func allDeclaredOutputs() -> [DeclaredOutput] {
        if let known = declaredOutputsCache { return known }
        var scratch = self
        scratch.errors = []
        scratch.instanceCount = 0
        scratch.expandedBytes = 0
        scratch.listingDeclaredOutputs = true
        var result: [DeclaredOutput] = []
        for decl in decls where !scratch.expansionExceeded {
            for (label, bindings) in scratch.fanOutInstances(decl) where !scratch.expansionExceeded {
                let name = label.map { "\(decl.name.value)[\($0)]" } ?? decl.name.value
                for attribute in decl.attributes {
                    guard case .output(_, let paths) = attribute.kind else { continue }
                    var unused: Set<String> = []
                    for p in paths {
                        if let text = scratch.render(p, extra: bindings, used: &unused), let norm = WorkspacePath.normalize(text) {
                            result.append(DeclaredOutput(path: norm, isDirectory: text.hasSuffix("/"), step: name))
                        }
                    }
                }
            }
        }
        result.sort { $0.path < $1.path }
        declaredOutputsCache = result
        return result
    }

    /// The declared output directory (and its step) that holds what `pattern` matches, if any:
    /// a fan-out over it expands from that step's result, not from the workspace.
    mutating func producingDirectory(of pattern: String) -> DeclaredOutput? {
        let fixed = pattern.split(separator: "/").prefix { !WorkspacePath.isGlob(String($0)) }.joined(separator: "/")
        return allDeclaredOutputs().first { $0.isDirectory && (fixed == $0.path || fixed.hasPrefix($0.path + "/")) }
    }

    /// The instances of a step: one with no bindings, or one per combination of its fan-out
    /// domains' items (the first domain varies slowest), labelled by their values joined with ','.
    /// A fan-out of no instance is an error at its domain unless the step says `allow-empty`.
    mutating func fanOutInstances(_ decl: StepDecl) -> FanOutInstances {
        guard !decl.fanOuts.isEmpty else { return FanOutInstances(domains: nil) }
        var domains: [DomainItems] = []
        var total = 1
        for fan in decl.fanOuts {
            if variables[fan.variable.value] != nil {
                error("fan-out variable '\(fan.variable.value)' hides the variable of the same name", at: fan.variable.location)
            }
            guard let items = domainItems(fan) else { return FanOutInstances(domains: []) }
            if deferred[decl.name.value] != nil { return FanOutInstances(domains: []) }
            if items.isEmpty {
                if !decl.allowsEmpty {
                    error("this fan-out has no instance: \(emptyReason(fan)) (add 'allow-empty' to the step if that can be right)",
                          at: fan.location)
                }
                return FanOutInstances(domains: [])
            }
            let (product, overflow) = total.multipliedReportingOverflow(by: items.count)
            total = overflow ? Int.max : product
            domains.append(items)
        }
        guard total <= LoaderState.maxInstances - instanceCount else {
            error("this fan-out has \(total == Int.max ? "more than \(Int.max)" : String(total)) items: with the \(instanceCount) " +
                  "before it, more than the \(LoaderState.maxInstances) step instances a workflow may have", at: decl.fanOuts[0].location)
            return FanOutInstances(domains: [])
        }
        instanceCount += total
        return FanOutInstances(domains: domains)
    }

    /// The items of one domain, or nil after reporting an error. A range is checked against the
    /// instance limit before any item is made.
    mutating func domainItems(_ fan: FanOut) -> DomainItems? {
        let v = fan.variable.value
        var unused: Set<String> = []
        func values(_ list: [String]) -> DomainItems { .list(list.map { ($0, [v: $0]) }) }
        switch fan.domain {
        case .range(let lowerText, let upperText, let closed):
            guard let lowerS = render(lowerText, extra: [:], used: &unused),
                  let upperS = render(upperText, extra: [:], used: &unused) else { return nil }
            return rangeItems(lowerS, upperS, closed: closed, v: v, lowerAt: lowerText.location, upperAt: upperText.location)
        case .glob(let patternText):
            guard let pattern = render(patternText, extra: [:], used: &unused) else { return nil }
            return globItems(pattern, v: v, at: patternText.location).map(DomainItems.list)
        case .list(let items):
            var list: [String] = []
            var seen = Set<String>()
            for item in items {
                guard let value = render(item, extra: [:], used: &unused)?.trimmingBlanks else { return nil }
                // Two instances of one name would write the same outputs: say so at the second.
                guard seen.insert(value).inserted else {
                    error("value '\(value)' appears twice in this list", at: item.location)
                    return nil
                }
                list.append(value)
            }
            return values(list)
        case .expression(let text):
            guard let rendered = render(text, extra: [:], used: &unused) else { return nil }
            if let r = rendered.firstRange(of: "..<") ?? rendered.firstRange(of: "...") {
                return rangeItems(String(rendered[..<r.lowerBound]).trimmingBlanks, String(rendered[r.upperBound...]).trimmingBlanks,
                                  closed: rendered[r] == "...", v: v, lowerAt: text.location, upperAt: text.location)
            }
            if rendered.utf8.contains(UInt8(ascii: ",")) {
                let list = rendered.split(separator: ",").map { String($0).trimmingBlanks }.filter { !$0.isEmpty }
                var seen = Set<String>()
                if let twice = list.first(where: { !seen.insert($0).inserted }) {
                    // The list comes from a variable (or --set): the fan-out is where it is used.
                    error("value '\(twice)' appears twice in this list ('\(text.value)' is '\(rendered)')", at: text.location)
                    return nil
                }
                return values(list)
            }
            if WorkspacePath.isGlob(rendered) || rendered.utf8.contains(UInt8(ascii: "/")) { return globItems(rendered, v: v, at: text.location).map(DomainItems.list) }
            let one = rendered.trimmingBlanks
            return values(one.isEmpty ? [] : [one])
        }
    }

    mutating func rangeItems(_ lowerS: String, _ upperS: String, closed: Bool, v: String,
                             lowerAt: SourceLocation, upperAt: SourceLocation) -> DomainItems? {
        guard let lower = Int(lowerS) else {
            error("range bound '\(lowerS)' is not an integer", at: lowerAt)
            return nil
        }
        guard let upper = Int(upperS) else {
            error("range bound '\(upperS)' is not an integer", at: upperAt)
            return nil
        }
        // Counted without overflow, whatever the bounds (0...Int.max, Int.min..<0).
        let (span, overflow) = upper.subtractingReportingOverflow(lower)
        let count = overflow ? Int.max : (span < 0 ? 0 : (closed ? (span == Int.max ? Int.max : span + 1) : span))
        guard count <= LoaderState.maxInstances - instanceCount else {
            error("this fan-out has \(count == Int.max ? "more than \(Int.max)" : String(count)) items: with the \(instanceCount) " +
                  "before it, more than the \(LoaderState.maxInstances) step instances a workflow may have", at: lowerAt)
            return nil
        }
        return .range(lower: lower, count: count, variable: v)
    }

    mutating func globItems(_ pattern: String, v: String, at location: SourceLocation) -> [(label: String, bindings: [String: String])]? {
        guard let (normalized, external) = resolvePath(pattern) else {
            error(escapeMessage(pattern), at: location)
            return nil
        }
        var matches: [String]
        if external != nil {
            matches = loader.workspace.glob(normalized)
        } else if !listingDeclaredOutputs, let producer = producingDirectory(of: normalized) {
            // Files another step writes: expanded from that step's result once it is known, in
            // this very run; until then the step waits ("expands after ...").
            guard let files = loader.workspace.resultFiles(of: producer.step, directory: producer.path) else {
                deferred[currentDecl] = (producer.step, location)
                return []
            }
            matches = files.filter { WorkspacePath.matches($0, pattern: normalized) }.sorted()
        } else {
            // Files that flow produced are not source files: those of current steps are expanded
            // from their producers, and the others are outputs of vanished steps.
            matches = loader.workspace.glob(normalized).filter { !loader.workspace.wasProducedByFlow($0) }
        }
        guard matches.count <= LoaderState.maxInstances - instanceCount else {
            error("this fan-out has \(matches.count) items: with the \(instanceCount) before it, more than the " +
                  "\(LoaderState.maxInstances) step instances a workflow may have", at: location)
            return nil
        }
        return matches.map { path in
            (path, [v: path, "\(v).name": WorkspacePath.name(path), "\(v).stem": WorkspacePath.stem(path),
                    "\(v).dir": WorkspacePath.directory(path)])
        }
    }

    /// Why a domain came out empty, for the error.
    mutating func emptyReason(_ fan: FanOut) -> String {
        var unused: Set<String> = []
        switch fan.domain {
        case .range(let l, let u, let closed):
            return "the range \(render(l, extra: [:], used: &unused) ?? l.value)\(closed ? "..." : "..<")\(render(u, extra: [:], used: &unused) ?? u.value) is empty"
        case .glob(let g): return "'\(render(g, extra: [:], used: &unused) ?? g.value)' matches no file"
        case .list: return "the list is empty"
        case .expression(let e):
            let r = render(e, extra: [:], used: &unused) ?? e.value
            return r.trimmingBlanks.isEmpty ? "'\(e.value)' is empty" : "'\(r)' matches nothing"
        }
    }

    mutating func elaborate(_ decl: StepDecl, instance: String?, bindings: [String: String]) {
        let name = instance.map { "\(decl.name.value)[\($0)]" } ?? decl.name.value
        var used: Set<String> = []
        var inputs: [PathRef] = [], inLocations: [SourceLocation] = []
        var outputs: [PathRef] = [], outLocations: [SourceLocation] = []
        // The bindings, the path lists and `step`: made once at their final size.
        var named: [String: String] = [:]
        named.reserveCapacity(bindings.count + 2 * decl.attributes.count + 3)
        named.merge(bindings) { a, _ in a }
        var pathLists: [String: [String]] = [:]
        pathLists.reserveCapacity(2 * decl.attributes.count + 2)
        var actionText: (kind: String, attribute: StepAttribute)?
        var after: [Located<String>] = []
        var shared = Step.Shared(baseName: decl.name.value, location: decl.name.location)
        var action = Action.shell("")
        let errorCount = errors.count

        // Paths first: the command may refer to them.
        for attribute in decl.attributes {
            switch attribute.kind {
            case .input(let label, let paths), .output(let label, let paths):
                let isInput: Bool
                if case .input = attribute.kind { isInput = true } else { isInput = false }
                var rendered: [String] = []
                for p in paths {
                    guard let text = render(p, extra: bindings, used: &used) else { continue }
                    let isDir = text.hasSuffix("/")
                    guard let (norm, external) = resolvePath(text), !norm.isEmpty else {
                        error(escapeMessage(text), at: p.location)
                        continue
                    }
                    if let external, !isInput {
                        error("output '\(norm)' is inside external data '\(external.name)' (\(external.path)): flow never writes there; " +
                              "outputs belong in the workspace", at: p.location)
                        continue
                    }
                    if external == nil, loader.workspace.isOwnedByFlow(norm) {
                        error(Self.ownedMessage(norm), at: p.location)
                        continue
                    }
                    if isInput, external == nil, let gather = Gather(text), declIndex[gather.base] != nil {
                        guard let paths = gatheredPaths(gather, from: decl, at: p.location) else { continue }
                        for ref in paths {
                            inputs.append(ref)
                            inLocations.append(p.location)
                            rendered.append(ref.path)
                        }
                        continue
                    }
                    if isInput && WorkspacePath.isGlob(norm) {
                        let matches: [String]
                        if external != nil {
                            matches = loader.workspace.glob(norm)
                        } else if !listingDeclaredOutputs, let producer = producingDirectory(of: norm) {
                            // Files a step writes into its output directory: known from its result, or later.
                            guard let files = loader.workspace.resultFiles(of: producer.step, directory: producer.path) else {
                                deferred[decl.name.value] = (producer.step, p.location)
                                continue
                            }
                            matches = files.filter { WorkspacePath.matches($0, pattern: norm) }
                        } else {
                            matches = globInputMatches(norm)
                        }
                        if matches.isEmpty {
                            // `featurs[*]` is a glob only because no step has that name: most likely a typo.
                            if let gather = Gather(text), let near = Spellcheck.suggestion(for: gather.base, among: declIndex.keys) {
                                error("no step named '\(gather.base)'; did you mean '\(near)'?", at: p.location)
                            } else {
                                error("glob '\(text)' matches no file", at: p.location)
                            }
                        }
                        for m in matches {
                            inputs.append(PathRef(path: m, isDirectory: false, name: nil))
                            inLocations.append(p.location)
                            rendered.append(m)
                        }
                        continue
                    }
                    if !isInput && WorkspacePath.isGlob(norm) {
                        error("an output cannot be a glob: name each file, or declare the directory ('out dir/')", at: p.location)
                        continue
                    }
                    let ref = PathRef(path: norm, isDirectory: isDir, name: label?.value)
                    if isInput { inputs.append(ref); inLocations.append(p.location) } else { outputs.append(ref); outLocations.append(p.location) }
                    if attribute.isMetrics { shared.metrics.append(norm) }
                    rendered.append(norm)
                }
                if let label {
                    let key = (isInput ? "in." : "out.") + label.value
                    if named[key] != nil {
                        error("\(isInput ? "input" : "output") name '\(label.value)' is used twice in step '\(decl.name.value)'", at: label.location)
                    }
                    named[key] = rendered.joined(separator: " ")
                    pathLists[key] = rendered
                }
            case .run, .op:
                if actionText != nil {
                    error("step '\(decl.name.value)' has more than one 'run' or 'op' line", at: attribute.location)
                }
                actionText = ("action", attribute)
            case .setting(let key, let value):
                guard let text = render(value, extra: bindings, used: &used) else { continue }
                applySetting(key, text, value.location, to: &shared)
            case .env(let entries):
                for entry in entries {
                    if let value = entry.value {
                        shared.environment[entry.name.value] = render(value, extra: bindings, used: &used) ?? ""
                    } else {
                        // Pass-through: the value flow sees enters the key; unset is remembered as unset.
                        shared.environment[entry.name.value] = loader.environment[entry.name.value] ?? ""
                    }
                }
            case .after(let names):
                after += names
            case .toolchain(let label, let command):
                elaborateToolchain(label, command, bindings: bindings, used: &used, into: &shared)
            case .checkpoint:
                shared.checkpoint = true
            case .allowEmpty, .untracked:
                break
            }
        }
        pathLists["in"] = inputs.map(\.path)
        pathLists["out"] = outputs.map(\.path)
        named["in"] = pathLists["in"]!.joined(separator: " ")
        named["out"] = pathLists["out"]!.joined(separator: " ")
        named["step"] = name

        if let (_, attribute) = actionText {
            switch attribute.kind {
            case .run(let command):
                if let text = render(command, extra: named, used: &used, shell: true, pathLists: pathLists) { action = .shell(text) }
            case .op(let opName, let arguments):
                action = elaborateOp(opName, arguments, named: named, inputs: inputs, outputs: outputs, used: &used) ?? .shell("")
            default: break
            }
        } else {
            error("step '\(decl.name.value)' has no 'run' or 'op' line", at: decl.name.location)
        }
        if case .shell(let command) = action, !warnedDecls.contains(decl.name.value) {
            warnedDecls.insert(decl.name.value)
            warnUndeclared(command, decl: decl, inputs: inputs, outputs: outputs, bindings: bindings)
        }
        if outputs.isEmpty && errors.count == errorCount {
            error("step '\(decl.name.value)' declares no output ('out PATH'): flow caches steps by their outputs", at: decl.name.location)
        }
        var parameters: [Parameter]?
        if decl.fanOuts.count == 1, let value = bindings[decl.fanOuts[0].variable.value], value == instance {
            shared.parameterName = decl.fanOuts[0].variable.value
        } else {
            parameters = decl.fanOuts.compactMap { f in bindings[f.variable.value].map { Parameter(name: f.variable.value, value: $0) } }
        }
        shared.variables = Dictionary(uniqueKeysWithValues: used.compactMap { v in variables[v].map { (v, $0) } })
        var step = Step(id: StepID(steps.count), name: name, action: action, inputs: inputs, outputs: outputs, storage: storage(for: shared))
        step.explicitParameters = parameters
        steps.append(step)
        inputLocations.append(inLocations)
        outputLocations.append(outLocations)
        afterNames.append(after)
        fanOutItems.append(instance)
    }

    /// `shared` in the storage of the step before when they are equal, as between the instances
    /// of a fan-out, so that they hold it once.
    func storage(for shared: Step.Shared) -> Step.SharedStorage {
        if let last = steps.last?.storage, last.value == shared { return last }
        return Step.SharedStorage(shared)
    }

    /// `toolchain NAME = EXECUTABLE [ARGS...]`: each word rendered; a path to the executable is
    /// checked like a path (a bare name is looked up on `PATH` when the step is evaluated).
    mutating func elaborateToolchain(_ label: Located<String>, _ command: [Located<String>], bindings: [String: String],
                                     used: inout Set<String>, into step: inout Step.Shared) {
        if step.toolchains.contains(where: { $0.name == label.value }) {
            error("toolchain '\(label.value)' is declared twice in step '\(step.baseName)'", at: label.location)
            return
        }
        var words: [String] = []
        for w in command {
            guard let text = render(w, extra: bindings, used: &used) else { return }
            words.append(text)
        }
        guard var executable = words.first, !executable.isEmpty else {
            error("toolchain '\(label.value)' needs an executable", at: label.location)
            return
        }
        if executable.contains("/") && !executable.hasPrefix("/") {
            guard let norm = WorkspacePath.normalize(executable), !norm.isEmpty else {
                error("toolchain executable '\(executable)' escapes the workspace (use an absolute path for one outside it)", at: command[0].location)
                return
            }
            executable = norm
        }
        step.toolchains.append(Toolchain(name: label.value, executable: executable, arguments: Array(words.dropFirst()), location: label.location))
    }

    /// Warns once per step when its `run` command names a workspace file that is neither an input
    /// nor an output: a script (`python3 train.py`) whose edits would otherwise leave the step
    /// fresh. Looked at on the step's first instance only, so that a large fan-out costs nothing.
    mutating func warnUndeclared(_ command: String, decl: StepDecl, inputs: [PathRef], outputs: [PathRef], bindings: [String: String]) {
        var untracked: [String] = []
        for attribute in decl.attributes {
            guard case .untracked(let paths) = attribute.kind else { continue }
            var unused: Set<String> = []
            untracked += paths.compactMap { render($0, extra: bindings, used: &unused).flatMap(WorkspacePath.normalize) }
        }
        // A toolchain's executable is declared: its content enters the key.
        for attribute in decl.attributes {
            guard case .toolchain(_, let command) = attribute.kind, let first = command.first else { continue }
            var unused: Set<String> = []
            if let path = render(first, extra: bindings, used: &unused).flatMap(WorkspacePath.normalize) { untracked.append(path) }
        }
        var seen = Set<String>()
        // The separators are ASCII, so splitting the UTF-8 bytes never cuts a character.
        for bytes in command.utf8.split(whereSeparator: { $0 < 128 && Self.commandSeparators[Int($0)] }) {
            let token = String(Substring(bytes))
            guard token.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "/") }), !token.hasPrefix("-"), !WorkspacePath.isGlob(token),
                  let path = WorkspacePath.normalize(token), !path.isEmpty, path != ".", seen.insert(path).inserted,
                  !inputs.contains(where: { $0.contains(path) }), !outputs.contains(where: { $0.contains(path) || path.hasPrefix($0.path + "/") }),
                  !untracked.contains(where: { $0 == path || path.hasPrefix($0 + "/") }),
                  !loader.workspace.isOwnedByFlow(path), loader.workspace.kind(of: path) == .file else { continue }
            let location = commandLocation(decl)
            warnings.append((decl.name.value, DAGError("step '\(decl.name.value)' runs with '\(path)', a workspace file it does not declare: " +
                                     "its changes will not rerun the step; declare it with 'in \(path)', or 'untracked \(path)' to silence this",
                                     at: location, sourceLine: sourceLine(location), kind: .warning)))
        }
    }

    /// The ASCII bytes that end a word of a `run` command for `warnUndeclared`.
    static let commandSeparators: [Bool] = (0..<128).map { " \t;|&<>()'\"`=,$".utf8.contains(UInt8($0)) }

    func commandLocation(_ decl: StepDecl) -> SourceLocation {
        for attribute in decl.attributes { if case .run(let c) = attribute.kind { return c.location } }
        return decl.name.location
    }

    /// Source files and the outputs that steps declare matching an input glob (outputs match in
    /// a fresh checkout too), computed once per pattern: every instance of a fan-out asks again.
    mutating func globInputMatches(_ pattern: String) -> [String] {
        if let known = globInputCache[pattern] { return known }
        let fixed = pattern.split(separator: "/").prefix { !WorkspacePath.isGlob(String($0)) }.joined(separator: "/")
        let outputs = allDeclaredOutputs()
        // Declared outputs are sorted by path: only those under the pattern's fixed part can match.
        var lo = 0, hi = outputs.count
        while lo < hi { let mid = (lo + hi) / 2; if outputs[mid].path < fixed { lo = mid + 1 } else { hi = mid } }
        var declared: [String] = []
        while lo < outputs.count, outputs[lo].path.hasPrefix(fixed) {
            if WorkspacePath.matches(outputs[lo].path, pattern: pattern) { declared.append(outputs[lo].path) }
            lo += 1
        }
        let sources = loader.workspace.glob(pattern).filter { !loader.workspace.wasProducedByFlow($0) }
        let result = Array(Set(sources + declared)).sorted()
        globInputCache[pattern] = result
        return result
    }

    /// The outputs a gather names, in instance order; nil after an error.
    mutating func gatheredPaths(_ gather: Gather, from decl: StepDecl, at location: SourceLocation) -> [PathRef]? {
        guard gather.base != decl.name.value else {
            error("step '\(decl.name.value)' cannot gather its own outputs", at: location)
            return nil
        }
        if let waiting = deferred[gather.base] {
            // Its instances are not known yet, so neither are this step's inputs.
            deferred[decl.name.value] = (waiting.after, location)
            return nil
        }
        let instances = steps.filter { $0.baseName == gather.base }
        var paths: [PathRef] = []
        for instance in instances {
            for out in instance.outputs where gather.output == nil || out.name == gather.output {
                paths.append(PathRef(path: out.path, isDirectory: out.isDirectory, name: nil))
            }
        }
        if let name = gather.output, paths.isEmpty, !instances.isEmpty {
            let names = Set(instances.flatMap { $0.outputs.compactMap(\.name) })
            error("step '\(gather.base)' has no output named '\(name)'\(Spellcheck.hint(for: name, among: names))", at: location)
            return nil
        }
        if instances.isEmpty && !(declIndex[gather.base].map { decls[$0].allowsEmpty } ?? false) {
            // Its own fan-out reported why; say where it is gathered too.
            error("'\(gather.base)[*]' gathers nothing: the step has no instance", at: location)
            return nil
        }
        return paths
    }

    mutating func elaborateOp(_ opName: Located<String>, _ arguments: [Located<String>], named: [String: String],
                              inputs: [PathRef], outputs: [PathRef], used: inout Set<String>) -> Action? {
        guard let version = loader.ops.version(of: opName.value) else {
            error("unknown op '\(opName.value)'\(Spellcheck.hint(for: opName.value, among: loader.ops.opNames))", at: opName.location)
            return nil
        }
        var argv: [String] = []
        for a in arguments {
            // A bare `{in}` or `{out}` with several paths becomes several arguments.
            if a.value == "{in}" { argv += inputs.map(\.path); continue }
            if a.value == "{out}" { argv += outputs.map(\.path); continue }
            guard let text = render(a, extra: named, used: &used) else { return nil }
            argv.append(text)
        }
        if let problem = loader.ops.validate(op: opName.value, arguments: argv) {
            // Point at the offending option when the message names one.
            let column = arguments.first { problem.contains("'\($0.value)'") || problem.contains("'\($0.value.split(separator: "=").first ?? "")'") }?.location ?? opName.location
            error("op '\(opName.value)': \(problem)", at: column)
            return nil
        }
        // Whatever else the op writes must be a declared output: a restore from the cache brings
        // back declared outputs only.
        for path in loader.ops.writes(op: opName.value, arguments: argv) {
            guard let norm = WorkspacePath.normalize(path), !outputs.contains(where: { $0.contains(norm) }) else { continue }
            error("op '\(opName.value)' also writes '\(norm)', which the step does not declare: add 'out \(norm)' " +
                  "(or name another path with the op's option)", at: opName.location)
            return nil
        }
        return .op(name: opName.value, version: version, arguments: argv)
    }

    mutating func applySetting(_ key: Located<String>, _ value: String, _ at: SourceLocation, to step: inout Step.Shared) {
        // Settings become lines of a job script (#SBATCH ...): a newline would add a command.
        if value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            error("'\(key.value)' has a control character (a newline?) in its value", at: at)
            return
        }
        switch key.value {
        case "cpus", "gpus", "retry":
            guard let n = Int(value), n >= (key.value == "cpus" ? 1 : 0), n <= 4096 else {
                error("'\(key.value)' needs a whole number\(key.value == "cpus" ? " of at least 1" : ""), got '\(value)'", at: at)
                return
            }
            if key.value == "cpus" { step.resources.cpus = n } else if key.value == "gpus" { step.resources.gpus = n } else { step.retries = n }
        case "mem":
            guard let bytes = Units.bytes(value) else {
                error("'mem' needs a size such as 512M, 4G or 1T, got '\(value)'", at: at)
                return
            }
            step.resources.memory = bytes
        case "time", "timeout":
            guard let seconds = Units.seconds(value) else {
                error("'\(key.value)' needs a duration such as 90s, 30m, 2h, 1d or 1h30m, got '\(value)'", at: at)
                return
            }
            if key.value == "time" { step.resources.time = seconds } else { step.timeout = seconds }
        case "executor":
            guard let kind = ExecutorKind(rawValue: value) else {
                error("unknown executor '\(value)' (use 'local' or 'slurm')", at: at)
                return
            }
            step.executor = kind
        default:
            if !step.cluster.set(key.value, value) { error("unknown step attribute '\(key.value)'", at: at) }
        }
    }

    // MARK: edges

    /// `Template.parse`, once per distinct text: every instance of a fan-out renders the same
    /// templates (at 100,000 instances, parsing them again took a tenth of the load).
    mutating func parsedTemplate(_ text: String) -> Result<Template, TemplateError> {
        if let known = parsedTemplates[text] { return known }
        let parsed = Template.parse(text)
        // Bounded, in case some caller renders per-instance text: then caching would only cost.
        if parsedTemplates.count < 4096 { parsedTemplates[text] = parsed }
        return parsed
    }

    /// The part of a path template that is known before its step's instances are: its variables
    /// expanded, cut before the first placeholder or wildcard, back to a whole directory.
    func literalPrefix(_ text: Located<String>) -> String {
        guard case .success(let template) = Template.parse(text.value) else { return "" }
        let marker = "\u{1}"
        let vars = variables
        let rendered = (try? template.render({ vars[$0] ?? marker }).get()) ?? marker
        var cut = rendered
        if let i = rendered.firstIndex(where: { $0 == "\u{1}" || $0 == "*" || $0 == "?" || $0 == "[" }) {
            cut = String(rendered[..<i])
            cut = cut.hasSuffix("/") ? cut : WorkspacePath.directory(cut)
        }
        return WorkspacePath.normalize(cut) ?? ""
    }

    /// Steps that read what a deferred step writes (by path, gather or `after`) are deferred too,
    /// until nothing changes; then every instance of a deferred step leaves the workflow, with the
    /// errors found in elaborating it (a glob over files that do not exist yet, say).
    mutating func deferDependents() {
        guard !deferred.isEmpty else { return }
        func overlaps(_ a: String, _ b: String) -> Bool {
            a.isEmpty || b.isEmpty || a == b || a.hasPrefix(b + "/") || b.hasPrefix(a + "/")
        }
        func templates(_ decl: StepDecl, inputs: Bool) -> [Located<String>] {
            decl.attributes.flatMap { attribute -> [Located<String>] in
                switch attribute.kind {
                case .input(_, let paths) where inputs: return paths
                case .output(_, let paths) where !inputs: return paths
                default: return []
                }
            }
        }
        // Which step reads what which step writes, by the known prefix of their path templates
        // (computed once), then every step reachable from a deferred one: linear in the edges.
        // A step that was elaborated reads its instances' actual inputs (a template such as `{f}`
        // says nothing before it is expanded); a gather reads the step it names, and only that.
        let outputsOf = decls.map { templates($0, inputs: false).map(literalPrefix) }
        var actualInputs: [String: [String]] = [:]
        for step in steps { actualInputs[step.baseName, default: []] += step.inputs.map(\.path) }
        var readers: [[(reader: Int, location: SourceLocation)]] = Array(repeating: [], count: decls.count)
        for (r, decl) in decls.enumerated() {
            let location = templates(decl, inputs: true).first?.location ?? decl.name.location
            for base in Gather.bases(in: decl) { if let w = declIndex[base], w != r { readers[w].append((r, location)) } }
            let inputs = deferred[decl.name.value] != nil ? [] : Set(actualInputs[decl.name.value] ?? [])
            for (w, outs) in outputsOf.enumerated() where w != r && !outs.isEmpty {
                if inputs.contains(where: { input in outs.contains { overlaps(input, $0) } }) { readers[w].append((r, location)) }
            }
        }
        for (r, decl) in decls.enumerated() {
            for name in afterNames(decl) { if let w = declIndex[name.value] { readers[w].append((r, name.location)) } }
        }
        var queue = decls.indices.filter { deferred[decls[$0].name.value] != nil }
        recordDeferredReads(outputsOf: outputsOf, waiting: Set(queue), overlaps: overlaps)
        while let w = queue.popLast() {
            let after = deferred[decls[w].name.value]!.after
            for (r, location) in readers[w] where deferred[decls[r].name.value] == nil {
                deferred[decls[r].name.value] = (after, location)
                queue.append(r)
            }
        }
        for (w, list) in readers.enumerated() {
            for (r, _) in list where deferred[decls[r].name.value] != nil {
                deferredReads[decls[r].name.value, default: []].insert(decls[w].name.value)
            }
        }
        // One whose paths lead nowhere known reads at least the step it waits for.
        for (name, d) in deferred where deferredReads[name, default: []].subtracting([name]).isEmpty {
            deferredReads[name, default: []].insert(String(d.after.prefix { $0 != "[" }))
        }
        // Drop the deferred steps' instances (renumbered) and the errors found in elaborating them.
        let keep = steps.indices.filter { deferred[steps[$0].baseName] == nil }
        steps = keep.enumerated().map { newIndex, old in
            var step = steps[old]
            step.id = StepID(newIndex)
            return step
        }
        inputLocations = keep.map { inputLocations[$0] }
        outputLocations = keep.map { outputLocations[$0] }
        afterNames = keep.map { afterNames[$0] }
        fanOutItems = keep.map { fanOutItems[$0] }
        errors.removeAll { e in decls.contains { deferred[$0.name.value] != nil && declErrors[$0.name.value]?.contains(e) == true } }
    }

    /// What the steps that wait for a result (`waiting`, by index) read by path: `readers` has
    /// no path edges into them, as they have no instances and so no actual inputs. Their input
    /// paths and fan-out globs are matched by their fixed part (`data/by_class/` of
    /// `data/by_class/*.npy`; a path that starts with a variable says nothing).
    mutating func recordDeferredReads(outputsOf: [[String]], waiting: Set<Int>, overlaps: (String, String) -> Bool) {
        for r in waiting {
            let decl = decls[r]
            var paths = decl.attributes.flatMap { attribute -> [Located<String>] in
                if case .input(_, let paths) = attribute.kind { return paths }
                return []
            }
            for fan in decl.fanOuts {
                if case .glob(let g) = fan.domain { paths.append(g) }
                if case .expression(let e) = fan.domain { paths.append(e) }
            }
            let prefixes = paths.map(literalPrefix).filter { !$0.isEmpty }
            var reads = Set<String>()
            for (w, outs) in outputsOf.enumerated() where w != r {
                if prefixes.contains(where: { p in outs.contains { !$0.isEmpty && overlaps(p, $0) } }) { reads.insert(decls[w].name.value) }
            }
            deferredReads[decl.name.value, default: []].formUnion(reads)
        }
    }

    func afterNames(_ decl: StepDecl) -> [Located<String>] {
        decl.attributes.flatMap { attribute -> [Located<String>] in
            if case .after(let names) = attribute.kind { return names }
            return []
        }
    }

    mutating func link() {
        deferDependents()
        // Glob-based instances and inputs cover source files only: drop what a step produces.
        var producerOf: [String: StepID] = [:]
        producerOf.reserveCapacity(steps.count)
        // Directory outputs by path (the first step's, as declared): looked up by each path's
        // ancestors, so that checking every output and input against them is not quadratic.
        var outputDirs: [String: StepID] = [:]
        // By index, here and below: iterating `steps` would copy every `Step`, and mutating
        // `steps` while iterating it would copy the whole array.
        for i in steps.indices {
            for (k, out) in steps[i].outputs.enumerated() {
                // One hash per output: the first producer is put back in the rare case of a second.
                if let other = producerOf.updateValue(StepID(i), forKey: out.path) {
                    producerOf[out.path] = other
                    error("'\(out.path)' is written by both '\(steps[other.index].name)' and '\(steps[i].name)'",
                          at: outputLocations[i][k],
                          notes: ["\(steps[other.index].location): note: '\(steps[other.index].name)' is defined here"])
                    continue
                }
                if out.isDirectory && outputDirs[out.path] == nil { outputDirs[out.path] = StepID(i) }
            }
        }
        // Only where some step writes a directory (every step's outputs read again, otherwise).
        if !outputDirs.isEmpty {
            for i in steps.indices {
                for (k, out) in steps[i].outputs.enumerated() {
                    if let (dir, owner) = Self.directoryOutput(above: out.path, in: outputDirs, except: StepID(i)) {
                        error("output '\(out.path)' of '\(steps[i].name)' is inside output directory '\(dir)/' of '\(steps[owner.index].name)'",
                              at: outputLocations[i][k])
                    }
                }
            }
        }
        guard errors.isEmpty else { return }

        // Made only when some step says `after`: a million instances hashed their base name for it.
        let byBase = afterNames.contains { !$0.isEmpty }
            ? Dictionary(grouping: steps.indices.map(StepID.init), by: { steps[$0.index].baseName }) : [:]
        var afterShared: (before: Step.SharedStorage, after: Step.SharedStorage)?
        for i in steps.indices {
            var deps = Set<StepID>()
            for (k, input) in steps[i].inputs.enumerated() {
                let location = inputLocations[i][k]
                var producers: [StepID] = []
                if let p = producerOf[input.path] {
                    producers.append(p)
                    if let out = steps[p.index].outputs.first(where: { $0.path == input.path }), out.isDirectory {
                        steps[i].inputs[k].isDirectory = true
                    }
                } else if let (_, owner) = Self.directoryOutput(above: input.path, in: outputDirs) {
                    producers.append(owner)
                } else {
                    let kind = loader.workspace.kind(of: input.path)
                    if kind != .file {
                        // An input directory that holds other steps' outputs depends on all of them.
                        let inside = outputsUnder(input.path, producerOf)
                        producers += inside
                        if kind == .missing && inside.isEmpty {
                            error("input '\(input.path)' does not exist and no step produces it", at: location)
                        }
                        steps[i].inputs[k].isDirectory = true
                    }
                }
                for p in producers {
                    if p.index == i {
                        error("step '\(steps[i].name)' reads its own output '\(input.path)'", at: location)
                    } else {
                        deps.insert(p)
                    }
                }
            }
            var after: [StepID] = []
            for name in afterNames[i] {
                guard let targets = byBase[name.value] ?? steps.firstIndex(where: { $0.name == name.value }).map({ [StepID($0)] }) else {
                    error("unknown step '\(name.value)' in 'after'\(Spellcheck.hint(for: name.value, among: byBase.keys))", at: name.location)
                    continue
                }
                for t in targets where t.index != i {
                    deps.insert(t)
                    after.append(t)
                }
            }
            if !after.isEmpty {
                // The instances of a fan-out that follow the same steps share one storage again.
                if let last = afterShared, last.before === steps[i].storage, last.after.value.after == after {
                    steps[i].storage = last.after
                } else {
                    let before = steps[i].storage
                    steps[i].after = after
                    afterShared = (before, steps[i].storage)
                }
            }
            // Not written when it stays empty: a million steps that read nothing.
            if !deps.isEmpty || !steps[i].dependencies.isEmpty { steps[i].dependencies = deps.sorted() }
        }
        for i in steps.indices {
            for d in steps[i].dependencies { steps[d.index].dependents.append(StepID(i)) }
        }
        checkCycles()
    }

    /// The directory output strictly above `path` (the workspace root counts, as an output
    /// `./` would) and its step, of the earliest step when directories nest; `except` a step.
    static func directoryOutput(above path: String, in owners: [String: StepID], except: StepID? = nil) -> (String, StepID)? {
        if owners.isEmpty { return nil }
        var best: (String, StepID)?
        func consider(_ dir: String) {
            guard let owner = owners[dir], owner != except else { return }
            if best == nil || owner < best!.1 { best = (dir, owner) }
        }
        var p = Substring(path)
        while let slash = p.lastIndex(of: "/") {
            p = p[..<slash]
            consider(String(p))
        }
        if !path.isEmpty { consider("") }
        return best
    }

    /// The steps that write something inside directory `path` (a sorted scan would do better for
    /// huge workflows; this runs only for inputs that are directories).
    func outputsUnder(_ path: String, _ producerOf: [String: StepID]) -> [StepID] {
        let prefix = path + "/"
        return producerOf.filter { $0.key.hasPrefix(prefix) }.map(\.value)
    }

    mutating func checkCycles() {
        let result = Self.topologicalOrder(steps)
        guard case .failure(let e) = result else {
            order = try? result.get()
            return
        }
        let cycle = e.steps
        let names = (cycle + [cycle[0]]).map { steps[$0.index].name }
        error("dependency cycle: \(names.joined(separator: " -> "))", at: steps[cycle[0].index].location,
              notes: cycle.dropFirst().map { "\(steps[$0.index].location): note: '\(steps[$0.index].name)' is defined here" })
    }

    /// Kahn's algorithm; on a cycle, returns the steps of one cycle in order.
    static func topologicalOrder(_ steps: [Step]) -> Result<[StepID], CycleError> {
        // Where every step needs only steps defined before it (the usual case: a fan-out and
        // what it reads), definition order is the order, and the heap below is not needed.
        if steps.indices.allSatisfy({ i in steps[i].dependencies.allSatisfy { $0.index < i } }) {
            return .success(steps.indices.map { StepID($0) })
        }
        var indegree = steps.indices.map { steps[$0].dependencies.count }
        // Definition order among ready steps: the smallest index first.
        var ready = ReadySteps(ascending: steps.indices.filter { indegree[$0] == 0 })
        var order: [StepID] = []
        order.reserveCapacity(steps.count)
        while let i = ready.popFirst() {
            order.append(StepID(i))
            for d in steps[i].dependents {
                indegree[d.index] -= 1
                if indegree[d.index] == 0 { ready.insert(d.index) }
            }
        }
        if order.count == steps.count { return .success(order) }
        // Walk dependencies among the unfinished steps until one repeats.
        let left = Set(steps.indices.filter { indegree[$0] > 0 })
        var path: [Int] = []
        var seen: [Int: Int] = [:]
        var current = left.min()!
        while seen[current] == nil {
            seen[current] = path.count
            path.append(current)
            current = steps[current].dependencies.map(\.index).first { left.contains($0) }!
        }
        // `path` follows dependency edges; show it in the direction work flows, starting from
        // the step defined first.
        var cycle = Array(path[seen[current]!...].reversed())
        let first = cycle.firstIndex(of: cycle.min()!)!
        cycle = Array(cycle[first...] + cycle[..<first])
        return .failure(CycleError(steps: cycle.map { StepID($0) }))
    }

    struct CycleError: Error {
        var steps: [StepID]
    }

    /// The steps ready to be ordered, by index: a binary min-heap. They were a sorted array, and
    /// a step read by a million others (a fan-out over one prepared file) made them ready one
    /// by one, each inserted at the front: quadratic (100,000 instances took a second).
    struct ReadySteps {
        private var heap: [Int]

        /// `indices` in ascending order, which is a heap already.
        init(ascending indices: [Int]) { heap = indices }

        mutating func insert(_ index: Int) {
            heap.append(index)
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard heap[child] < heap[parent] else { break }
                heap.swapAt(child, parent)
                child = parent
            }
        }

        /// The smallest index, removed; nil when none is left.
        mutating func popFirst() -> Int? {
            guard let last = heap.popLast() else { return nil }
            guard !heap.isEmpty else { return last }
            let first = heap[0]
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < heap.count && heap[left] < heap[smallest] { smallest = left }
                if right < heap.count && heap[right] < heap[smallest] { smallest = right }
                guard smallest != parent else { return first }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
    }

    func workflow() -> Workflow {
        let order = self.order ?? (try? Self.topologicalOrder(steps).get()) ?? steps.map(\.id)
        var wf = Workflow(steps: steps, order: order, variables: variables, files: fileOrder)
        wf.deferred = deferred.map { d in
            DeferredStep(baseName: d.key, after: d.value.after, location: d.value.location,
                         isFanOut: declIndex[d.key].map { !decls[$0].fanOuts.isEmpty } ?? false,
                         reads: (deferredReads[d.key] ?? []).subtracting([d.key]).sorted())
        }.sorted { ($0.location.line, $0.baseName) < ($1.location.line, $1.baseName) }
        wf.warnings = warnings.filter { deferred[$0.step] == nil }.map(\.warning)
        wf.externals = externals.map(\.root)
        return wf
    }
}

extension String {
    /// Without leading and trailing blanks (spaces and tabs).
    var trimmingBlanks: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}

/// Sizes and durations as written in a .dag.
public enum Units {
    /// `512`, `512K`, `4G`, `1.5T` (powers of 1024; a trailing `B` or `iB` is allowed).
    public static func bytes(_ text: String) -> Int64? {
        var s = text.uppercased()
        if s.hasSuffix("IB") { s.removeLast(2) } else if s.hasSuffix("B") { s.removeLast() }
        let units: [Character: Double] = ["K": 1024, "M": 1024 * 1024, "G": 1024 * 1024 * 1024, "T": 1024 * 1024 * 1024 * 1024]
        var factor = 1.0
        if let last = s.last, let f = units[last] { factor = f; s.removeLast() }
        guard let v = Double(s), v >= 0, v * factor < 9e18 else { return nil }
        return Int64(v * factor)
    }

    /// `90`, `90s`, `30m`, `2h`, `1d`, `1h30m`, or `HH:MM:SS`.
    public static func seconds(_ text: String) -> Int? {
        if text.contains(":") {
            let parts = text.split(separator: ":").map { Int($0) }
            guard parts.count <= 3, parts.allSatisfy({ $0 != nil && $0! >= 0 }) else { return nil }
            return parts.reduce(0) { $0 * 60 + $1! }
        }
        if let n = Int(text), n >= 0 { return n }
        var total = 0, number = ""
        for c in text {
            if c.isNumber { number.append(c); continue }
            guard let n = Int(number) else { return nil }
            switch c {
            case "s": total += n
            case "m": total += n * 60
            case "h": total += n * 3600
            case "d": total += n * 86400
            default: return nil
            }
            number = ""
        }
        return number.isEmpty && total >= 0 ? total : nil
    }
}

/// `STEP[*]`, `STEP[*].out` (every output of every instance of STEP, in instance order) or
/// `STEP[*].out.NAME` (the output named NAME of each instance): an input that gathers a fan-out.
struct Gather: Equatable {
    var base: String
    var output: String?

    init?(_ text: String) {
        guard let open = text.firstIndex(of: "["), text[open...].hasPrefix("[*]") else { return nil }
        let base = String(text[..<open])
        guard Tokenizer.isName(base) else { return nil }
        var rest = text[text.index(open, offsetBy: 3)...]
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        if rest.isEmpty || rest == ".out" {
            output = nil
        } else if rest.hasPrefix(".out."), Tokenizer.isName(String(rest.dropFirst(5))) {
            output = String(rest.dropFirst(5))
        } else {
            return nil
        }
        self.base = base
    }

    /// The steps a declaration gathers from, by base name.
    static func bases(in decl: StepDecl) -> [String] {
        decl.attributes.flatMap { attribute -> [String] in
            guard case .input(_, let paths) = attribute.kind else { return [] }
            return paths.compactMap { Gather($0.value)?.base }
        }
    }
}

/// The items of one fan-out domain: a range of integers by its bounds (a million of them are not
/// made up front), or a list of labels with their bindings.
enum DomainItems: Sendable {
    case range(lower: Int, count: Int, variable: String)
    case list([(label: String, bindings: [String: String])])

    var count: Int {
        switch self {
        case .range(_, let count, _): return count
        case .list(let items): return items.count
        }
    }

    var isEmpty: Bool { count == 0 }

    subscript(k: Int) -> (label: String, bindings: [String: String]) {
        switch self {
        case .range(let lower, _, let variable):
            let label = String(lower + k)
            return (label, [variable: label])
        case .list(let items): return items[k]
        }
    }
}

/// The instances of a step (`LoaderState.fanOutInstances`), each made when it is read: one with
/// no label (`domains` nil), or one per combination of the domains' items, the first domain
/// varying slowest, labelled by their labels joined with ','; an earlier domain's binding wins.
struct FanOutInstances: RandomAccessCollection, Sendable {
    var domains: [DomainItems]?

    var startIndex: Int { 0 }
    var endIndex: Int { domains.map { $0.isEmpty ? 0 : $0.reduce(1) { $0 * $1.count } } ?? 1 }

    subscript(k: Int) -> (label: String?, bindings: [String: String]) {
        guard let domains else { return (nil, [:]) }
        if domains.count == 1 { return domains[0][k] }
        var items: [(label: String, bindings: [String: String])] = []
        var rest = k
        for d in domains.reversed() {
            items.append(d[rest % d.count])
            rest /= d.count
        }
        items.reverse()
        var bindings: [String: String] = [:]
        for item in items { bindings.merge(item.bindings) { a, _ in a } }
        return (items.map(\.label).joined(separator: ","), bindings)
    }
}
