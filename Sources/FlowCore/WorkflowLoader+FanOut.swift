/// The fast path for the instances of a fan-out: what does not depend on an instance's binding
/// (its `Step.Shared`, its `after` names, the parsed templates, the bytes its settings add) is
/// worked out once, from an instance that the general path (`LoaderState.elaborate`) made without
/// an error; each further instance renders only its paths and its command.
///
/// It makes exactly the `Step` and side entries the general path would. Whatever could take the
/// general path elsewhere (an error, a glob, a gather, a path outside the workspace or flow's
/// own, the expansion limit) sends the instance there instead, before anything of the loader's
/// state has changed: this path never reports anything itself.
struct FanOutPlan {
    /// The shared fields of the instance the plan was made from: every instance has equal ones,
    /// since nothing they are made of depends on the binding (see `LoaderState.fanOutPlan`).
    let storage: Step.SharedStorage
    let after: [Located<String>]
    let groups: [PathGroup]
    let command: Template
    /// Where each path template is, in order: an instance's locations when each template renders
    /// to one path, as on this path; one array that every instance shares.
    let inputLocations: [SourceLocation]
    let outputLocations: [SourceLocation]
    /// What the renders of settings, environment and toolchains add to `expandedBytes` in each
    /// instance: the same text in each.
    let constantBytes: Int

    /// The path templates of one `in` or `out` line.
    struct PathGroup {
        var isInput: Bool
        /// The name given to the list (`in model = ...`).
        var label: String?
        /// `in.NAME` or `out.NAME`, under which a named list is rendered into the command.
        var key: String?
        var templates: [Template]
    }
}

extension LoaderState {
    /// The plan for the other instances of `decl`, made from `first`, an instance the general
    /// path made without an error; nil when an instance could differ in more than its paths and
    /// its command (a setting, variable or toolchain that uses a fan-out variable, an op).
    func fanOutPlan(_ decl: StepDecl, first: Step) -> FanOutPlan? {
        guard !decl.fanOuts.isEmpty, deferred[decl.name.value] == nil else { return nil }
        var bound: Set<String> = []
        for fan in decl.fanOuts {
            let v = fan.variable.value
            bound.formUnion([v, v + ".name", v + ".stem", v + ".dir"])
        }
        let vars = variables
        // The length of a text that no binding enters, rendered as the general path renders it.
        func constantLength(_ text: Located<String>) -> Int? {
            guard case .success(let template) = Template.parse(text.value),
                  !template.placeholders.contains(where: { bound.contains($0.name) }),
                  case .success(let rendered) = template.render({ vars[$0] }) else { return nil }
            return rendered.utf8.count
        }
        var groups: [FanOutPlan.PathGroup] = []
        var inputLocations: [SourceLocation] = [], outputLocations: [SourceLocation] = []
        var command: Template?
        var after: [Located<String>] = []
        var constantBytes = 0
        for attribute in decl.attributes {
            switch attribute.kind {
            case .input(let label, let paths), .output(let label, let paths):
                var isInput = false
                if case .input = attribute.kind { isInput = true }
                // A metrics path enters the shared fields.
                if attribute.isMetrics, paths.contains(where: { constantLength($0) == nil }) { return nil }
                var templates: [Template] = []
                for p in paths {
                    guard case .success(let template) = Template.parse(p.value) else { return nil }
                    templates.append(template)
                    if isInput { inputLocations.append(p.location) } else { outputLocations.append(p.location) }
                }
                groups.append(FanOutPlan.PathGroup(isInput: isInput, label: label?.value,
                                                   key: label.map { (isInput ? "in." : "out.") + $0.value }, templates: templates))
            case .run(let text):
                guard command == nil, case .success(let template) = Template.parse(text.value) else { return nil }
                command = template
            case .op:
                return nil
            case .setting(_, let value):
                guard let n = constantLength(value) else { return nil }
                constantBytes += n
            case .env(let entries):
                for entry in entries {
                    guard let value = entry.value else { continue }
                    guard let n = constantLength(value) else { return nil }
                    constantBytes += n
                }
            case .toolchain(_, let words):
                for word in words {
                    guard let n = constantLength(word) else { return nil }
                    constantBytes += n
                }
            case .after(let names):
                after += names
            case .checkpoint, .allowEmpty, .untracked:
                break
            }
        }
        guard let command else { return nil }
        return FanOutPlan(storage: first.storage, after: after, groups: groups, command: command, inputLocations: inputLocations,
                          outputLocations: outputLocations, constantBytes: constantBytes)
    }

    /// Makes one instance of `decl` by `plan`; false, with nothing changed, when it must take
    /// the general path.
    mutating func elaborate(_ decl: StepDecl, by plan: FanOutPlan, instance: String, bindings: [String: String]) -> Bool {
        let vars = variables
        var bytes = plan.constantBytes
        var inputs: [PathRef] = [], outputs: [PathRef] = []
        var lists: [(key: String, paths: [String])] = []
        for group in plan.groups {
            var rendered: [String] = []
            for template in group.templates {
                guard case .success(let text) = template.render({ bindings[$0] ?? vars[$0] }) else { return false }
                bytes += text.utf8.count
                // A plain path in the workspace, as the general path's last case takes it.
                guard let norm = WorkspacePath.normalize(text), !norm.isEmpty, !WorkspacePath.isGlob(norm),
                      !(group.isInput && Gather(text) != nil), !loader.workspace.isOwnedByFlow(norm) else { return false }
                let ref = PathRef(path: norm, isDirectory: text.hasSuffix("/"), name: group.label)
                if group.isInput { inputs.append(ref) } else { outputs.append(ref) }
                rendered.append(norm)
            }
            if let key = group.key { lists.append((key, rendered)) }
        }
        guard !outputs.isEmpty else { return false }
        let name = decl.name.value + "[" + instance + "]"
        let inPaths = inputs.map(\.path), outPaths = outputs.map(\.path)
        // The general path's names, in its order of precedence: `step`, `in` and `out`, then the
        // named lists, then the bindings, then the variables.
        func pathList(_ key: String) -> [String]? {
            if key == "in" { return inPaths }
            if key == "out" { return outPaths }
            return lists.last { $0.key == key }?.paths
        }
        func lookup(_ key: String) -> String? {
            if key == "step" { return name }
            if let paths = pathList(key) { return paths.joined(separator: " ") }
            return bindings[key] ?? vars[key]
        }
        let rendered = plan.command.render(lookup, finish: { key, format, value, context in
            guard format != Template.rawFormat else { return value }
            if context.quoting == .bare, let paths = pathList(key) { return paths.map { ShellQuote.quote($0) }.joined(separator: " ") }
            return ShellQuote.quote(value, in: context)
        })
        guard case .success(let command) = rendered else { return false }
        bytes += command.utf8.count
        guard expandedBytes + bytes <= Self.maxExpandedBytes else { return false }
        var parameters: [Parameter]?
        if decl.fanOuts.count == 1 {
            // The plan's shared fields read the parameter from the name.
            guard bindings[decl.fanOuts[0].variable.value] == instance else { return false }
        } else {
            parameters = decl.fanOuts.compactMap { f in bindings[f.variable.value].map { Parameter(name: f.variable.value, value: $0) } }
        }
        expandedBytes += bytes
        var step = Step(id: StepID(steps.count), name: name, action: .shell(command), inputs: inputs, outputs: outputs, storage: plan.storage)
        step.explicitParameters = parameters
        steps.append(step)
        inputLocations.append(plan.inputLocations)
        outputLocations.append(plan.outputLocations)
        afterNames.append(plan.after)
        fanOutItems.append(instance)
        return true
    }
}
