@testable import FlowCore
import FlowTestSupport
import Testing
import XXHash

/// The workflow memo's two halves in FlowCore: `WorkflowCodec` must give back exactly the
/// workflow it was given (a field lost is a stale workflow on every memo hit), and the
/// `WorkspaceLog` of a load must notice every change of an answer the loader got.
@Suite struct WorkflowCodecTests {
    static let main = """
        include more.dag
        let seed = 0
        let n = 3
        external data = /datasets/x
        step pool
          out data/pool/
          op synth-images --count 10 --seed {seed} --out {out}
        step s[i in 0..<{n}]
          in cfg/a.txt
          out out/{i}
          metrics out/{i}.json
          run cat cfg/a.txt > {out}; python3 train.py {i}; echo > out/{i}.json
          cpus 2
          mem 4G
          gpus 1
          time 2h
          retry 1
          timeout 1h
          checkpoint
          executor slurm
          partition gpu
          sbatch --exclusive
          env HOME
          env UNSET_HERE
          env MODE=fast-{i}
          toolchain sh = sh -c true
        step t[C in 0.1, 1, k in 0..<2]
          out t/{C}-{k}
          run echo {C} {k} {seed} > {out}
        step g[f in src/*.txt]
          in {f}
          out gout/{f.stem}
          run cat {in} > {out}
        step gather
          in s[*]
          in {data}/train/
          out all.txt
          run cat {in} > {out}
          after pool
        step per[p in parts/*.txt]
          in {p}
          out per/{p.stem}
          run cat {in} > {out}
        step sum
          in per[*]
          out sum.txt
          run cat {in} > {out}
        """
    static let more = """
        step split
          in cfg/
          out parts/
          run mkdir -p parts; touch parts/a.txt parts/b.txt
        """
    static let files = ["w.dag": main, "more.dag": more, "cfg/a.txt": "a", "cfg/b.txt": "b", "train.py": "",
                        "src/x.txt": "", "src/y.txt": "", "/datasets/x/train/1.jpg": ""]

    /// An in-memory workspace that knows the results of some steps and which files flow produced.
    final class View: WorkspaceView {
        var base: InMemoryWorkspace
        var results: [String: [String]] = [:]
        var produced: Set<String> = []
        var owned: Set<String> = []
        init(_ files: [String: String]) { base = InMemoryWorkspace(files) }
        func readText(_ path: String) throws -> String { try base.readText(path) }
        func kind(of path: String) -> PathKind { base.kind(of: path) }
        func realPath(_ path: String) -> String? { base.realPath(path) }
        func glob(_ pattern: String) -> [String] { base.glob(pattern) }
        func isOwnedByFlow(_ path: String) -> Bool { WorkspacePath.isReserved(path) || owned.contains(path) }
        func wasProducedByFlow(_ path: String) -> Bool { produced.contains(path) }
        func resultFiles(of step: String, directory: String) -> [String]? { results[step] }
    }

    func load(_ view: any WorkspaceView, overrides: [String: String] = [:]) throws -> (Workflow, WorkspaceLog) {
        let recorder = RecordingWorkspace(view)
        let wf = try WorkflowLoader(workspace: recorder, ops: FakeOps(), environment: ["HOME": "/home/u"]).load(file: "w.dag", overrides: overrides)
        return (wf, recorder.log)
    }

    @Test func aDecodedWorkflowIsTheLoadedOne() throws {
        let view = View(Self.files)
        let (waiting, log) = try load(view)
        #expect(!waiting.deferred.isEmpty && !waiting.warnings.isEmpty && !waiting.externals.isEmpty, "the workflow covers what it should")
        #expect(waiting.steps.contains { !($0.explicitParameters ?? []).isEmpty } && waiting.steps.contains { !$0.toolchains.isEmpty })
        view.results["split"] = ["parts/a.txt", "parts/b.txt"]
        let (expanded, expandedLog) = try load(view, overrides: ["n": "2"])
        #expect(expanded.deferred.isEmpty && expanded.step(named: "per[parts/b.txt]") != nil)
        for (wf, log) in [(waiting, log), (expanded, expandedLog)] {
            let context = WorkflowCodec.Context(facts: ["binary test", "file w.dag"],
                                                environment: [.init(name: "HOME", value: "/home/u"), .init(name: "X", value: nil)])
            var reader = WorkflowCodec.Reader(WorkflowCodec.encode(context: context, log: log, workflow: wf))
            #expect(try reader.context() == context)
            #expect(try reader.log() == log)
            let decoded = try reader.workflow()
            #expect(decoded.isIdentical(to: wf))
            #expect(decoded.steps == wf.steps && decoded.order == wf.order && decoded.warnings == wf.warnings)
            // The instances that shared one storage share one again, and no others do.
            #expect(decoded.storageGroups == wf.storageGroups)
            #expect(Set(wf.storageGroups).count < wf.steps.count, "some steps share their storage")
            let s = decoded.steps.filter { $0.baseName == "t" }
            #expect(s.count == 4 && s.allSatisfy { $0.storage === s[0].storage })
        }
    }

    /// `isIdentical` is what the memo's debug check and the differential tests rely on: it
    /// must see a difference in any field, and in the sharing of storages.
    @Test func isIdenticalSeesEveryDifference() throws {
        let (wf, _) = try load(View(Self.files))
        var changes: [(String, (inout Workflow) -> Void)] = [
            ("a step's name", { $0.steps[1].name += "x" }),
            ("a shared field", { $0.steps[1].timeout += 1 }),
            ("an explicit parameter", { w in
                let i = w.steps.firstIndex { !($0.explicitParameters ?? []).isEmpty }!
                w.steps[i].explicitParameters![0].value += "x"
            }),
            ("the order", { $0.order.swapAt(0, 1) }),
            ("a variable", { $0.variables["seed"] = "1" }),
            ("the files", { $0.files.append("x.dag") }),
            ("a deferred step", { $0.deferred[0].reads.append("x") }),
            ("a warning", { $0.warnings[0].notes.append("x") }),
            ("an external", { $0.externals[0].path += "x" }),
        ]
        changes.append(("the sharing of a storage", { w in
            let i = w.steps.firstIndex { $0.baseName == "t" }!
            w.steps[i].storage = Step.SharedStorage(w.steps[i].storage.value)
        }))
        for (what, change) in changes {
            var other = wf
            change(&other)
            #expect(!other.isIdentical(to: wf), "a change of \(what) goes unseen")
        }
        #expect(wf.isIdentical(to: wf))
    }

    /// Every stored property the codec writes, by type: a property added to one of these types
    /// must be added to `WorkflowCodec` (and here), or every memo hit would lose it.
    @Test func theCodecKnowsEveryStoredProperty() throws {
        let (wf, _) = try load(View(Self.files))
        let step = wf.steps.first { !$0.toolchains.isEmpty && !$0.inputs.isEmpty }!
        func names(_ value: Any) -> [String] { Mirror(reflecting: value).children.compactMap(\.label) }
        #expect(names(wf) == ["steps", "order", "variables", "files", "deferred", "warnings", "externals"])
        #expect(names(step) == ["id", "name", "action", "inputs", "outputs", "dependencies", "dependents", "explicitParameters", "storage"])
        #expect(names(step.storage) == ["value"])
        #expect(names(step.storage.value) == ["baseName", "location", "resources", "environment", "retries", "timeout", "checkpoint",
                                              "metrics", "executor", "cluster", "after", "toolchains", "variables", "parameterName"])
        #expect(names(Resources()) == ["cpus", "memory", "gpus", "time"])
        #expect(names(ClusterSettings()) == ["partition", "account", "qos", "constraint", "sbatch"])
        #expect(names(step.toolchains[0]) == ["name", "executable", "arguments", "location"])
        #expect(names(step.inputs[0]) == ["path", "isDirectory", "name"])
        #expect(names(step.location) == ["file", "line", "column"])
        #expect(names(wf.deferred[0]) == ["baseName", "after", "location", "isFanOut", "reads"])
        #expect(names(wf.warnings[0]) == ["location", "message", "sourceLine", "notes", "kind"])
        #expect(names(wf.externals[0]) == ["name", "path"])
        #expect(names(Parameter(name: "a", value: "b")) == ["name", "value"])
    }

    /// Garbage, a cut, or a flipped byte: an error, never a trap, and never a workflow that
    /// passes for the real one with a step id out of range.
    @Test func damagedBytesThrow() throws {
        let (wf, log) = try load(View(Self.files))
        let bytes = WorkflowCodec.encode(context: .init(facts: ["f"], environment: []), log: log, workflow: wf)
        func decode(_ b: [UInt8]) throws -> Workflow {
            var r = WorkflowCodec.Reader(b)
            _ = try r.context()
            _ = try r.log()
            return try r.workflow()
        }
        #expect(try decode(bytes).isIdentical(to: wf))
        for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 200)) {
            #expect(throws: WorkflowCodec.Damaged.self) { try decode(Array(bytes[..<cut])) }
        }
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<300 {
            var b = bytes
            b[Int.random(in: 0..<b.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            // A flipped byte may still decode (a different string, say): then it must not trap,
            // and the memo's digest is what keeps such a file from being used.
            if let decoded = try? decode(b) { _ = decoded.steps.map { decoded[$0.id].name } }
        }
        for _ in 0..<100 {
            let garbage = (0..<Int.random(in: 0..<2000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = try? decode(garbage)
        }
    }

    /// Each answer the loader gets, changed: the replay names the question; unchanged: nil.
    @Test func replayNoticesEveryChangedAnswer() throws {
        let view = View(Self.files)
        let (_, log) = try load(view)
        #expect(log.isSteady && log.replay(on: view) == nil)
        let changes: [(String, (View) -> Void)] = [
            ("an included .dag", { $0.base.files["more.dag"]! += "\n" }),
            ("the main .dag", { $0.base.files["w.dag"]! += "# x\n" }),
            ("a file a glob matches, added", { $0.base.files["src/z.txt"] = "" }),
            ("a file a glob matches, removed", { $0.base.files["src/x.txt"] = nil }),
            ("a file a glob matches, produced by flow", { $0.produced.insert("src/x.txt") }),
            ("a directory input that became a file", { v in
                v.base.files["cfg/a.txt"] = nil
                v.base.files["cfg/b.txt"] = nil
                v.base.files["cfg"] = ""
            }),
            ("a source file that became a directory", { v in
                v.base.files["train.py"] = nil
                v.base.files["train.py/x"] = ""
            }),
            ("the result of the step a fan-out waits for", { $0.results["split"] = ["parts/a.txt"] }),
            ("a path that became flow's own", { $0.owned.insert("all.txt") }),
            ("an included file that became a link out of the workspace", { $0.base.links["more.dag"] = "/elsewhere/more.dag" }),
        ]
        for (what, change) in changes {
            let changed = View(Self.files)
            change(changed)
            #expect(log.replay(on: changed) != nil, "\(what) goes unseen")
        }
        // A file's content counts, by digest: the same text again is the same answer.
        let same = View(Self.files)
        same.base.files["cfg/a.txt"] = "a"
        #expect(log.replay(on: same) == nil)
    }

    /// A question answered two ways in one load (the workspace changed while the loader looked)
    /// makes a log no memo may keep.
    @Test func aQuestionAnsweredTwoWaysIsUnsteady() {
        let steady = WorkspaceLog([(.kind("a"), .kind(.file)), (.kind("a"), .kind(.file)), (.glob("*"), .paths(["a"]))])
        #expect(steady.isSteady && steady.entries.count == 2)
        let unsteady = WorkspaceLog([(.kind("a"), .kind(.file)), (.kind("a"), .kind(.missing))])
        #expect(!unsteady.isSteady)
    }
}
