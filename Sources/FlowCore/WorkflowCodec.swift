import XXHash

/// A compact binary form of a loaded `Workflow` with what it was loaded from (the facts of its
/// context, the environment values it used, the `WorkspaceLog` of its load), for the workflow
/// memo (FlowRuntime's `WorkflowMemo`), which keeps it in a file and checks it before use.
///
/// Layout: three parts, read in order, so that a memo that no longer holds is given up on
/// before its workflow is decoded:
///
///     context  facts, environment (name, value or unset)
///     log      questions and answers, in the order asked
///     workflow the shared storages (each once, however many steps use it), the steps, order,
///              variables, files, deferred steps, warnings, externals
///
/// Integers are LEB128 varints (signed ones zigzagged), strings are a length and UTF-8 bytes,
/// dictionaries are written sorted by key. (A table of strings written once would make the file
/// a fifth smaller, as an output of one step is the input of the next; but interning every
/// string cost more than all the rest of the encoding, on every load that writes a memo.)
/// Nothing is trusted on reading: every count, index and step id is checked, and a bad one
/// throws `WorkflowCodec.Damaged`, never traps.
///
/// The format changes with the fields of `Step` and `Workflow`: a memo is only ever read by the
/// binary that wrote it (see `WorkflowMemo`), and `WorkflowCodecTests` fails when a stored
/// property is added that the codec does not know.
public enum WorkflowCodec {
    /// What a memo holds besides the workflow and the log.
    public struct Context: Equatable, Sendable {
        /// What the load depends on besides the workspace and the environment, as text (the
        /// binary, the .dag path, `--set` values): equal facts or no use of the memo.
        public var facts: [String]
        /// The environment variables the workflow's steps pass through, with the value each had
        /// (nil: unset).
        public var environment: [Variable]

        public struct Variable: Equatable, Sendable {
            public var name: String
            public var value: String?
            public init(name: String, value: String?) {
                self.name = name
                self.value = value
            }
        }

        public init(facts: [String], environment: [Variable]) {
            self.facts = facts
            self.environment = environment
        }
    }

    public struct Damaged: Error, CustomStringConvertible {
        public var description: String
    }

    public static func encode(context: Context, log: WorkspaceLog, workflow: Workflow) -> [UInt8] {
        // About 150 bytes a step and 20 a question: one allocation, no regrowth, most of the time.
        var w = Writer(capacity: 160 * workflow.steps.count + 24 * log.entries.count + 4096)
        w.context(context)
        w.log(log)
        w.workflow(workflow)
        return w.finish()
    }

    /// Reads the parts of an encoded memo in order: `context()`, then `log()`, then `workflow()`.
    public struct Reader {
        var bytes: [UInt8]
        var offset = 0

        public init(_ bytes: [UInt8]) {
            self.bytes = bytes
        }

        public mutating func context() throws -> Context {
            let facts = try array { try $0.string() }
            let environment = try array { r in Context.Variable(name: try r.string(), value: try r.optional { try $0.string() }) }
            return Context(facts: facts, environment: environment)
        }

        public mutating func log() throws -> WorkspaceLog {
            var log = WorkspaceLog(entries: try array { r in (try r.query(), try r.answer()) })
            log.isSteady = try bool()
            return log
        }

        public mutating func workflow() throws -> Workflow {
            let storages = try array { Step.SharedStorage(try $0.shared()) }
            var steps = try array { r in try r.step(storages) }
            for i in steps.indices {
                guard steps[i].id.index == i else { throw Damaged(description: "step \(i) has id \(steps[i].id.rawValue)") }
            }
            let count = steps.count
            func check(_ ids: [StepID]) throws {
                for id in ids where id.rawValue < 0 || id.index >= count { throw Damaged(description: "step id \(id.rawValue) of \(count)") }
            }
            for s in storages { try check(s.value.after) }
            for i in steps.indices {
                try check(steps[i].dependencies)
                try check(steps[i].dependents)
            }
            let order = try ids()
            try check(order)
            guard order.count == count else { throw Damaged(description: "an order of \(order.count) steps for \(count)") }
            var wf = Workflow(steps: steps, order: order, variables: try dictionary(), files: try array { try $0.string() })
            steps = []
            wf.deferred = try array { r in
                DeferredStep(baseName: try r.string(), after: try r.string(), location: try r.location(), isFanOut: try r.bool(),
                             reads: try r.array { try $0.string() })
            }
            wf.warnings = try array { try $0.error() }
            wf.externals = try array { r in ExternalRoot(name: try r.string(), path: try r.string()) }
            guard offset == bytes.count else { throw Damaged(description: "\(bytes.count - offset) bytes after the workflow") }
            return wf
        }

        // MARK: parts

        mutating func step(_ storages: [Step.SharedStorage]) throws -> Step {
            let id = StepID(rawValue: Int32(truncatingIfNeeded: try int()))
            let name = try string()
            let action = try self.action()
            let inputs = try array { try $0.pathRef() }
            let outputs = try array { try $0.pathRef() }
            let dependencies = try ids()
            let dependents = try ids()
            let parameters = try optional { r in try r.array { Parameter(name: try $0.string(), value: try $0.string()) } }
            let s = try length()
            guard s < storages.count else { throw Damaged(description: "shared storage \(s) of \(storages.count)") }
            var step = Step(id: id, name: name, action: action, inputs: inputs, outputs: outputs, storage: storages[s])
            step.dependencies = dependencies
            step.dependents = dependents
            step.explicitParameters = parameters
            return step
        }

        mutating func shared() throws -> Step.Shared {
            var s = Step.Shared(baseName: try string(), location: try location())
            s.resources.cpus = try int()
            s.resources.memory = Int64(try int())
            s.resources.gpus = try int()
            s.resources.time = try int()
            s.environment = try dictionary()
            s.retries = try int()
            s.timeout = try int()
            s.checkpoint = try bool()
            s.metrics = try array { try $0.string() }
            s.executor = try optional { r in
                let raw = try r.string()
                guard let kind = ExecutorKind(rawValue: raw) else { throw Damaged(description: "executor '\(raw)'") }
                return kind
            }
            s.cluster = ClusterSettings(partition: try optional { try $0.string() }, account: try optional { try $0.string() },
                                        qos: try optional { try $0.string() }, constraint: try optional { try $0.string() },
                                        sbatch: try array { try $0.string() })
            s.after = try ids()
            s.toolchains = try array { r in
                Toolchain(name: try r.string(), executable: try r.string(), arguments: try r.array { try $0.string() }, location: try r.location())
            }
            s.variables = try dictionary()
            s.parameterName = try optional { try $0.string() }
            return s
        }

        mutating func action() throws -> Action {
            switch try byte() {
            case 0: return .shell(try string())
            case 1: return .op(name: try string(), version: try int(), arguments: try array { try $0.string() })
            case let b: throw Damaged(description: "action \(b)")
            }
        }

        mutating func pathRef() throws -> PathRef {
            let path = try string()
            let flags = try byte()
            return PathRef(path: path, isDirectory: flags & 1 != 0, name: flags & 2 != 0 ? try string() : nil)
        }

        mutating func location() throws -> SourceLocation {
            SourceLocation(file: try string(), line: try int(), column: try int())
        }

        mutating func error() throws -> DAGError {
            let message = try string(), location = try self.location(), sourceLine = try string()
            let notes = try array { try $0.string() }
            let kind: DAGError.Kind
            switch try byte() {
            case 0: kind = .data
            case 1: kind = .usage
            case 2: kind = .warning
            case let b: throw Damaged(description: "error kind \(b)")
            }
            return DAGError(message, at: location, sourceLine: sourceLine, notes: notes, kind: kind)
        }

        mutating func query() throws -> WorkspaceLog.Query {
            switch try byte() {
            case 0: return .readText(try string())
            case 1: return .kind(try string())
            case 2: return .realPath(try string())
            case 3: return .glob(try string())
            case 4: return .ownedByFlow(try string())
            case 5: return .producedByFlow(try string())
            case 6: return .resultFiles(step: try string(), directory: try string())
            case let b: throw Damaged(description: "query \(b)")
            }
        }

        mutating func answer() throws -> WorkspaceLog.Answer {
            switch try byte() {
            case 0: return .text(nil)
            case 1: return .text(Digest128(high: try uint64(), low: try uint64()))
            case 2: return .kind(.missing)
            case 3: return .kind(.file)
            case 4: return .kind(.directory)
            case 5: return .path(try optional { try $0.string() })
            case 6: return .paths(try optional { try $0.array { try $0.string() } })
            case 7: return .flag(false)
            case 8: return .flag(true)
            case let b: throw Damaged(description: "answer \(b)")
            }
        }

        // MARK: primitives

        mutating func byte() throws -> UInt8 {
            guard offset < bytes.count else { throw Damaged(description: "cut short") }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func uint64() throws -> UInt64 {
            var value: UInt64 = 0, shift: UInt64 = 0
            while true {
                let b = try byte()
                guard shift < 64 else { throw Damaged(description: "a varint of more than 64 bits") }
                value |= UInt64(b & 0x7f) << shift
                if b & 0x80 == 0 { return value }
                shift += 7
            }
        }

        mutating func int() throws -> Int {
            let z = try uint64()
            return Int(truncatingIfNeeded: Int64(bitPattern: (z >> 1) ^ (0 &- (z & 1))))
        }

        /// A count or an index: at most the bytes left, so that garbage cannot ask for a huge
        /// allocation (every element takes at least one byte).
        mutating func length() throws -> Int {
            let n = try uint64()
            guard n <= UInt64(bytes.count - offset) else { throw Damaged(description: "a length of \(n) with \(bytes.count - offset) bytes left") }
            return Int(n)
        }

        mutating func bool() throws -> Bool {
            switch try byte() {
            case 0: return false
            case 1: return true
            case let b: throw Damaged(description: "bool \(b)")
            }
        }

        mutating func string() throws -> String {
            let n = try length()
            defer { offset += n }
            return String(decoding: bytes[offset..<offset + n], as: UTF8.self)
        }

        mutating func ids() throws -> [StepID] {
            try array { StepID(rawValue: Int32(truncatingIfNeeded: try $0.int())) }
        }

        mutating func optional<T>(_ read: (inout Reader) throws -> T) throws -> T? {
            try bool() ? try read(&self) : nil
        }

        mutating func array<T>(_ read: (inout Reader) throws -> T) throws -> [T] {
            let n = try length()
            var result: [T] = []
            result.reserveCapacity(n)
            for _ in 0..<n { result.append(try read(&self)) }
            return result
        }

        mutating func dictionary() throws -> [String: String] {
            let n = try length()
            var result: [String: String] = [:]
            result.reserveCapacity(n)
            for _ in 0..<n { result[try string()] = try string() }
            return result
        }
    }

    struct Writer {
        var body: [UInt8] = []

        init(capacity: Int) { body.reserveCapacity(capacity) }

        func finish() -> [UInt8] { body }

        mutating func context(_ c: Context) {
            array(c.facts) { $0.string($1) }
            array(c.environment) { w, v in
                w.string(v.name)
                w.optional(v.value) { $0.string($1) }
            }
        }

        mutating func log(_ log: WorkspaceLog) {
            array(log.entries) { w, e in
                w.query(e.query)
                w.answer(e.answer)
            }
            bool(log.isSteady)
        }

        mutating func workflow(_ wf: Workflow) {
            // Each storage once, in order of first use, so that the instances that shared one
            // share one again when read.
            var storageIndex: [ObjectIdentifier: Int] = [:]
            var storages: [Step.SharedStorage] = []
            var storageOf: [Int] = []
            storageOf.reserveCapacity(wf.steps.count)
            storageIndex.reserveCapacity(wf.steps.count)
            // By index, here and below: iterating `steps` would copy (retain and release) every step.
            for i in wf.steps.indices {
                let storage = wf.steps[i].storage
                if let last = storages.last, last === storage {
                    storageOf.append(storages.count - 1)
                } else if let known = storageIndex[ObjectIdentifier(storage)] {
                    storageOf.append(known)
                } else {
                    storageIndex[ObjectIdentifier(storage)] = storages.count
                    storageOf.append(storages.count)
                    storages.append(storage)
                }
            }
            uint(UInt64(storages.count))
            for storage in storages { shared(storage) }
            uint(UInt64(wf.steps.count))
            for i in wf.steps.indices { step(wf.steps, i, storage: storageOf[i]) }
            ids(wf.order)
            dictionary(wf.variables)
            array(wf.files) { $0.string($1) }
            array(wf.deferred) { w, d in
                w.string(d.baseName)
                w.string(d.after)
                w.location(d.location)
                w.bool(d.isFanOut)
                w.array(d.reads) { $0.string($1) }
            }
            array(wf.warnings) { $0.error($1) }
            array(wf.externals) { w, e in
                w.string(e.name)
                w.string(e.path)
            }
        }

        mutating func step(_ steps: [Step], _ i: Int, storage: Int) {
            int(steps[i].id.index)
            string(steps[i].name)
            action(steps[i].action)
            array(steps[i].inputs) { $0.pathRef($1) }
            array(steps[i].outputs) { $0.pathRef($1) }
            ids(steps[i].dependencies)
            ids(steps[i].dependents)
            optional(steps[i].explicitParameters) { w, parameters in
                w.array(parameters) { w, p in
                    w.string(p.name)
                    w.string(p.value)
                }
            }
            uint(UInt64(storage))
        }

        mutating func shared(_ storage: Step.SharedStorage) {
            let s = storage.value
            string(s.baseName)
            location(s.location)
            int(s.resources.cpus)
            int(Int(s.resources.memory))
            int(s.resources.gpus)
            int(s.resources.time)
            dictionary(s.environment)
            int(s.retries)
            int(s.timeout)
            bool(s.checkpoint)
            array(s.metrics) { $0.string($1) }
            optional(s.executor) { $0.string($1.rawValue) }
            optional(s.cluster.partition) { $0.string($1) }
            optional(s.cluster.account) { $0.string($1) }
            optional(s.cluster.qos) { $0.string($1) }
            optional(s.cluster.constraint) { $0.string($1) }
            array(s.cluster.sbatch) { $0.string($1) }
            ids(s.after)
            array(s.toolchains) { w, t in
                w.string(t.name)
                w.string(t.executable)
                w.array(t.arguments) { $0.string($1) }
                w.location(t.location)
            }
            dictionary(s.variables)
            optional(s.parameterName) { $0.string($1) }
        }

        mutating func action(_ action: Action) {
            switch action {
            case .shell(let command):
                body.append(0)
                string(command)
            case .op(let name, let version, let arguments):
                body.append(1)
                string(name)
                int(version)
                array(arguments) { $0.string($1) }
            }
        }

        mutating func pathRef(_ ref: PathRef) {
            string(ref.path)
            body.append((ref.isDirectory ? 1 : 0) | (ref.name != nil ? 2 : 0))
            if let name = ref.name { string(name) }
        }

        mutating func location(_ l: SourceLocation) {
            string(l.file)
            int(l.line)
            int(l.column)
        }

        mutating func error(_ e: DAGError) {
            string(e.message)
            location(e.location)
            string(e.sourceLine)
            array(e.notes) { $0.string($1) }
            switch e.kind {
            case .data: body.append(0)
            case .usage: body.append(1)
            case .warning: body.append(2)
            }
        }

        mutating func query(_ q: WorkspaceLog.Query) {
            switch q {
            case .readText(let p): body.append(0); string(p)
            case .kind(let p): body.append(1); string(p)
            case .realPath(let p): body.append(2); string(p)
            case .glob(let p): body.append(3); string(p)
            case .ownedByFlow(let p): body.append(4); string(p)
            case .producedByFlow(let p): body.append(5); string(p)
            case .resultFiles(let step, let directory): body.append(6); string(step); string(directory)
            }
        }

        mutating func answer(_ a: WorkspaceLog.Answer) {
            switch a {
            case .text(nil): body.append(0)
            case .text(let d?): body.append(1); uint(d.high); uint(d.low)
            case .kind(.missing): body.append(2)
            case .kind(.file): body.append(3)
            case .kind(.directory): body.append(4)
            case .path(let p): body.append(5); optional(p) { $0.string($1) }
            case .paths(let ps): body.append(6); optional(ps) { w, ps in w.array(ps) { $0.string($1) } }
            case .flag(let f): body.append(f ? 8 : 7)
            }
        }

        // MARK: primitives

        mutating func uint(_ value: UInt64) {
            var v = value
            while v >= 0x80 {
                body.append(UInt8(truncatingIfNeeded: v) | 0x80)
                v >>= 7
            }
            body.append(UInt8(v))
        }

        mutating func int(_ value: Int) {
            let v = Int64(value)
            uint(UInt64(bitPattern: (v << 1) ^ (v >> 63)))
        }

        mutating func bool(_ value: Bool) { body.append(value ? 1 : 0) }

        mutating func string(_ s: String) {
            var s = s
            s.withUTF8 { utf8 in
                uint(UInt64(utf8.count))
                body.append(contentsOf: utf8)
            }
        }

        mutating func ids(_ ids: [StepID]) {
            uint(UInt64(ids.count))
            for id in ids { int(Int(id.rawValue)) }
        }

        mutating func optional<T>(_ value: T?, _ write: (inout Writer, T) -> Void) {
            bool(value != nil)
            if let value { write(&self, value) }
        }

        mutating func array<T>(_ values: [T], _ write: (inout Writer, T) -> Void) {
            uint(UInt64(values.count))
            for v in values { write(&self, v) }
        }

        mutating func dictionary(_ d: [String: String]) {
            uint(UInt64(d.count))
            if d.isEmpty { return }
            for (k, v) in d.sorted(by: { $0.key < $1.key }) {
                string(k)
                string(v)
            }
        }
    }
}
