import FlowCore
import XXHash

extension FreshSnapshot {
    /// What changed since a snapshot whose context still holds and whose workflow-defining paths
    /// (the .dag files, directories listed by globs, toolchains, the kind of every source input)
    /// are unchanged: the workflow loads as it did, and only the steps that looked at a changed
    /// path, or were marked "to evaluate", and everything downstream of them need evaluating.
    /// Every other step is fresh as it was then: its inputs are unchanged files or the outputs
    /// of steps that are themselves fresh, and its outputs were seen unchanged.
    public struct Delta: Sendable {
        public var steps: [StepInfo]
        /// Positions in `steps` of the steps that saw a changed path or are to be evaluated.
        public var changed: Set<Int>
        /// Everything the snapshot recorded, for the next snapshot to carry over (`save`).
        var entries: [(path: String, entry: Entry)]

        /// Whether the snapshot lists `workflow`'s steps in its order, as a snapshot of the same
        /// workflow does: its steps are then found by position, not looked up by name.
        func listsSteps(inOrderOf workflow: Workflow) -> Bool {
            steps.count == workflow.order.count && zip(steps, workflow.order).allSatisfy { $0.name == workflow[$1].name }
        }

        /// The steps of `workflow` that are fresh without evaluation, with the key each is fresh
        /// under: all but the changed steps and what is downstream of them. Nil when the snapshot
        /// is not of this workflow's steps (then everything is evaluated), or when the workflow
        /// has fan-outs that expand after a result (`Workflow.deferred`), which the snapshot
        /// cannot speak for, or when a path the workflow depends on was seen changed by the load
        /// (`seen`, the workspace's observations: a .dag saved after the check).
        public func knownFresh(in workflow: Workflow, seen: [String: FileStat?]?) -> [StepID: Digest128]? {
            guard workflow.deferred.isEmpty, steps.count == workflow.steps.count, let seen else { return nil }
            for (path, e) in entries where e.workflow || e.workflowKind {
                guard let now = seen[path] else { continue }
                if e.workflow && !FreshSnapshot.same(e.stat, now) { return nil }
                if (e.stat == nil) != (now == nil) || e.stat?.isDirectory != now?.isDirectory { return nil }
            }
            var byName: [String: StepID] = [:]
            byName.reserveCapacity(workflow.steps.count)
            for step in workflow.steps { byName[step.name] = step.id }
            var ids: [StepID] = []
            ids.reserveCapacity(steps.count)
            for s in steps {
                guard let id = byName.removeValue(forKey: s.name), s.key != nil else { return nil }
                ids.append(id)
            }
            let roots = Set(changed.map { ids[$0] })
            let evaluate = roots.union(workflow.downstream(of: roots))
            var known: [StepID: Digest128] = [:]
            known.reserveCapacity(ids.count - evaluate.count)
            for (i, id) in ids.enumerated() where !evaluate.contains(id) { known[id] = steps[i].key }
            return known
        }
    }

    /// Reads the whole snapshot and compares every path with the disk. Nil when the snapshot
    /// cannot restrict anything: absent, of another version or context, damaged or cut short,
    /// or a path the workflow depends on changed (a .dag, a listed directory, a toolchain, or an
    /// input turned from a file into a directory or gone).
    public static func delta(stateDirectory: String, root: String, context: ([String]) -> String) -> Delta? {
        guard let text = try? FileIO.readAll(path(stateDirectory: stateDirectory), sizeHint: 1 << 20) else { return nil }
        return text.withUnsafeBufferPointer { bytes -> Delta? in
            var scanner = LineScanner(bytes: bytes)
            guard readHead(&scanner, context: context) != nil else { return nil }
            var disk = DiskProbe(root: root)
            var entries: [(path: String, entry: Entry)] = []
            // Positions named by paths that changed, checked against the step count at the end.
            var changed = Set<Int>()
            while let kind = scanner.peek(), kind != UInt8(ascii: "s") {
                guard let seen = Observed(scanner.line()), let then = seen.stat,
                      var entry = observers(seen.observers) else { return nil }
                entry.stat = then
                let now = disk.signature(seen.path)
                if !same(then, now) {
                    if entry.workflow { return nil }
                    if entry.workflowKind && (then == nil || now == nil || then!.isDirectory != now!.isDirectory) { return nil }
                    for i in entry.steps { changed.insert(Int(i)) }
                }
                entries.append((TextRecord.unescape(UnsafeBufferPointer(rebasing: seen.path)), entry))
            }
            guard let count = scanner.fields(), count.count == 2, count[0] == "steps", let n = Int(count[1]) else { return nil }
            var steps: [StepInfo] = []
            steps.reserveCapacity(n)
            for i in 0..<n {
                guard let r = scanner.fields(), r.count == 6, r[0] == "S", let key = Digest128(hex: r[4]) else { return nil }
                steps.append(StepInfo(name: r[1], lastDuration: Double(r[2]), outputSize: Int64(r[3]), key: key, dirty: r[5] == "1"))
                if r[5] == "1" { changed.insert(i) }
            }
            while scanner.peek() != nil, let r = scanner.fields() {
                if r == ["end"] {
                    guard changed.allSatisfy({ $0 < n }) else { return nil }
                    return Delta(steps: steps, changed: changed, entries: entries)
                }
                guard r.first == "E" else { return nil }
            }
            return nil
        }
    }

    /// Parses a WHO field: `w`, `k` and step positions, comma-separated.
    static func observers(_ field: Slice<UnsafeBufferPointer<UInt8>>) -> Entry? {
        var e = Entry()
        for part in field.split(separator: UInt8(ascii: ",")) {
            if part.count == 1 && part.first == UInt8(ascii: "w") {
                e.workflow = true
            } else if part.count == 1 && part.first == UInt8(ascii: "k") {
                e.workflowKind = true
            } else {
                var v: Int32 = 0
                for c in part {
                    guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"), v < Int32.max / 10 - 9 else { return nil }
                    v = v * 10 + Int32(c - UInt8(ascii: "0"))
                }
                e.steps.append(v)
            }
        }
        return e
    }
}
