import Dispatch

/// The fast path for the instances of a fan-out: what does not depend on an instance's binding
/// (its `Step.Shared`, its `after` names, the parsed templates, the bytes its settings add) is
/// worked out once, from an instance that the general path (`LoaderState.elaborate`) made without
/// an error; each further instance renders only its paths and its command, on every core.
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
    let renderer: FanOutRenderer
    /// Where each path template is, in order: an instance's locations when each template renders
    /// to one path, as on this path; one array that every instance shares.
    let inputLocations: [SourceLocation]
    let outputLocations: [SourceLocation]
    /// What the renders of settings, environment and toolchains add to `expandedBytes` in each
    /// instance: the same text in each.
    let constantBytes: Int

}

/// What renders one instance's paths and command: immutable, so instances render on any thread.
struct FanOutRenderer: Sendable {
    let baseName: String
    let groups: [PathGroup]
    let command: Template
    /// The fan-out's variables, in the order of its domains.
    let fanOutVariables: [String]
    let variables: [String: String]

    /// The path templates of one `in` or `out` line.
    struct PathGroup: Sendable {
        var isInput: Bool
        /// The name given to the list (`in model = ...`).
        var label: String?
        /// `in.NAME` or `out.NAME`, under which a named list is rendered into the command.
        var key: String?
        var templates: [Template]
    }

    /// One instance as rendered, before the loader checks its paths and takes it.
    struct Instance: Sendable {
        var label: String
        var name: String
        var command: String
        var inputs: [PathRef]
        var outputs: [PathRef]
        var parameters: [Parameter]?
        /// What its paths and command add to `expandedBytes`.
        var bytes: Int
    }

    /// Instances `range` of `instances`, in chunks on every core; nil for one that must take the
    /// general path. Each chunk stops rendering once its instances hold `budget` bytes divided
    /// among the chunks (the rest is nil): a batch never holds more text than the expansion
    /// limit lets the workflow hold, however long each instance's command.
    func render(_ instances: FanOutInstances, _ range: Range<Int>, budget: Int, extraBytes: Int) -> [Instance?] {
        let chunk = 4096
        let chunks = (range.count + chunk - 1) / chunk
        let share = budget / max(1, chunks)
        @Sendable func renderChunk(_ c: Int, _ put: (Int, Instance?) -> Void) {
            var held = 0
            let start = c * chunk
            for i in start..<min(range.count, start + chunk) {
                let instance = held > share ? nil : render(instances, range.lowerBound + i)
                held += instance.map { $0.bytes + extraBytes } ?? 0
                put(i, instance)
            }
        }
        return [Instance?](unsafeUninitializedCapacity: range.count) { buffer, count in
            // Each chunk initializes its own slots and no other; all are initialized when
            // concurrentPerform returns, and only then is the buffer read.
            nonisolated(unsafe) let slots = buffer
            if chunks > 1 {
                DispatchQueue.concurrentPerform(iterations: chunks) { c in renderChunk(c) { slots.initializeElement(at: $0, to: $1) } }
            } else if chunks == 1 {
                renderChunk(0) { slots.initializeElement(at: $0, to: $1) }
            }
            count = range.count
        }
    }

    /// Instance `k`, or nil when it must take the general path.
    func render(_ instances: FanOutInstances, _ k: Int) -> Instance? {
        let (instance, bindings) = instances[k]
        guard let instance else { return nil }
        let vars = variables
        var bytes = 0
        var inputs: [PathRef] = [], outputs: [PathRef] = []
        var lists: [(key: String, paths: [String])] = []
        for group in groups {
            var rendered: [String] = []
            for template in group.templates {
                guard case .success(let text) = template.render({ bindings[$0] ?? vars[$0] }) else { return nil }
                bytes += text.utf8.count
                // A plain path in the workspace, as the general path's last case takes it (flow's
                // own paths are left to `LoaderState.take`).
                guard let norm = WorkspacePath.normalize(text), !norm.isEmpty, !WorkspacePath.isGlob(norm),
                      !(group.isInput && Gather(text) != nil) else { return nil }
                let ref = PathRef(path: norm, isDirectory: text.hasSuffix("/"), name: group.label)
                if group.isInput { inputs.append(ref) } else { outputs.append(ref) }
                rendered.append(norm)
            }
            if let key = group.key { lists.append((key, rendered)) }
        }
        guard !outputs.isEmpty else { return nil }
        let name = baseName + "[" + instance + "]"
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
        let rendered = command.render(lookup, finish: { key, format, value, context in
            guard format != Template.rawFormat else { return value }
            if context.quoting == .bare, let paths = pathList(key) { return paths.map { ShellQuote.quote($0) }.joined(separator: " ") }
            return ShellQuote.quote(value, in: context)
        })
        guard case .success(let text) = rendered else { return nil }
        bytes += text.utf8.count
        var parameters: [Parameter]?
        if fanOutVariables.count == 1 {
            // The plan's shared fields read the parameter from the name.
            guard bindings[fanOutVariables[0]] == instance else { return nil }
        } else {
            parameters = fanOutVariables.compactMap { v in bindings[v].map { Parameter(name: v, value: $0) } }
        }
        return Instance(label: instance, name: name, command: text, inputs: inputs, outputs: outputs, parameters: parameters, bytes: bytes)
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
        var groups: [FanOutRenderer.PathGroup] = []
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
                groups.append(FanOutRenderer.PathGroup(isInput: isInput, label: label?.value,
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
        let renderer = FanOutRenderer(baseName: decl.name.value, groups: groups, command: command,
                                      fanOutVariables: decl.fanOuts.map(\.variable.value), variables: variables)
        return FanOutPlan(storage: first.storage, after: after, renderer: renderer, inputLocations: inputLocations,
                          outputLocations: outputLocations, constantBytes: constantBytes)
    }

    /// Takes an instance the plan rendered; false, with nothing changed, when it must take the
    /// general path after all.
    mutating func take(_ made: FanOutRenderer.Instance, by plan: FanOutPlan) -> Bool {
        for ref in made.inputs where loader.workspace.isOwnedByFlow(ref.path) { return false }
        for ref in made.outputs where loader.workspace.isOwnedByFlow(ref.path) { return false }
        let bytes = plan.constantBytes + made.bytes
        guard expandedBytes + bytes <= loader.expansionLimit else { return false }
        expandedBytes += bytes
        // Made in place: a local `Step` appended was copied and destroyed, a million times.
        steps.append(Step(id: StepID(steps.count), name: made.name, action: .shell(made.command), inputs: made.inputs,
                          outputs: made.outputs, storage: plan.storage))
        if made.parameters != nil { steps[steps.count - 1].explicitParameters = made.parameters }
        inputLocations.append(plan.inputLocations)
        outputLocations.append(plan.outputLocations)
        afterNames.append(plan.after)
        fanOutItems.append(made.label)
        plannedInstances += 1
        return true
    }

    /// Elaborates every instance of `decl` (`elaborateDecl`): each through the general path until
    /// one gives a plan, the rest by the plan in batches, in order; an instance the plan cannot
    /// make takes the general path in its turn.
    mutating func elaborateInstances(of decl: StepDecl) {
        let instances = fanOutInstances(decl)
        if instances.count > 1 {
            // Made once at their final size, not grown by doubling: a million steps.
            for n in [steps.count + instances.count] {
                steps.reserveCapacity(n)
                inputLocations.reserveCapacity(n)
                outputLocations.reserveCapacity(n)
                afterNames.reserveCapacity(n)
                fanOutItems.reserveCapacity(n)
            }
        }
        var plan: FanOutPlan?
        var planned = !loader.usesFanOutPlans || decl.fanOuts.isEmpty
        var k = 0
        let ahead = WorkAhead<[FanOutRenderer.Instance?]>()
        while k < instances.endIndex, !expansionExceeded {
            guard let plan else {
                let (label, bindings) = instances[k]
                let (stepCount, reports) = (steps.count, errorReports)
                elaborate(decl, instance: label, bindings: bindings)
                if !planned, steps.count == stepCount + 1, errorReports == reports {
                    planned = true
                    plan = fanOutPlan(decl, first: steps[stepCount])
                }
                k += 1
                continue
            }
            let end = min(instances.endIndex, k + loader.fanOutBatch)
            let made = ahead.take() ?? plan.renderer.render(instances, k..<end, budget: loader.expansionLimit - expandedBytes,
                                                             extraBytes: plan.constantBytes)
            // The next batch is rendered on the other cores while this one is taken here (taking
            // asks the workspace, so it stays on this thread). Its budget leaves room for all of
            // this batch, so together they never hold more than the limit lets the workflow hold.
            let following = end..<min(instances.endIndex, end + loader.fanOutBatch)
            if !following.isEmpty {
                let budget = loader.expansionLimit - expandedBytes - made.reduce(0) { $0 + ($1.map { $0.bytes + plan.constantBytes } ?? 0) }
                ahead.start { [renderer = plan.renderer, extra = plan.constantBytes] in
                    renderer.render(instances, following, budget: budget, extraBytes: extra)
                }
            }
            for (j, instance) in zip(k..<end, made) where !expansionExceeded {
                if let instance, take(instance, by: plan) { continue }
                let (label, bindings) = instances[j]
                elaborate(decl, instance: label, bindings: bindings)
            }
            k = end
        }
        _ = ahead.take()
    }
}
