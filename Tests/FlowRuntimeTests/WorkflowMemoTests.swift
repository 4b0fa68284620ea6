import FlowCore
import Foundation
@testable import FlowRuntime
import FlowTestSupport
import Testing
import XXHash

/// The workflow memo on a real disk: a load through it must give exactly the workflow, and leave
/// exactly the observations, of a load without it, whatever changed in between; and it must be
/// used only when nothing the load depends on changed.
@Suite struct WorkflowMemoTests {
    static let dag = """
        include more.dag
        let n = 2
        step s[i in 0..<{n}]
          in cfg/
          out out/{i}.txt
          run cat cfg/a.txt > {out}; sh run.sh
          env HOME
        step g[f in src/*.txt]
          in {f}
          in data
          out gout/{f.stem}
          run cat {in} > {out}
        step split
          out parts/
          run mkdir -p parts; touch parts/a.txt
        step per[p in parts/*.txt]
          in {p}
          out per/{p.stem}
          run cat {in} > {out}
        """
    static let more = """
        step all
          in s[*]
          out all.txt
          run cat {in} > {out}
        """

    func workspace() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory("flow-memo")
        try dir.write("flow.dag", Self.dag)
        try dir.write("more.dag", Self.more)
        try dir.write("cfg/a.txt", "a\n")
        try dir.write("run.sh", "true\n")
        try dir.write("src/x.txt", "x\n")
        try dir.write("src/y.txt", "y\n")
        try dir.write("data/1", "1\n")
        return dir
    }

    struct Load {
        var workflow: Workflow
        var outcome: WorkflowMemo.Outcome?
        var context: RunContext
    }

    /// A load as `flow` makes it, in a new context (a new process), through the memo or not.
    func load(_ dir: TemporaryDirectory, memo: Bool = true, policy: WorkflowMemo.Policy = .always, binary: String = "flow test 1",
              overrides: [String: String] = [:],
              environment: [String: String] = ["HOME": "/home/u"], prepare: (RunContext) -> Void = { _ in }) throws -> Load {
        let context = try RunContext(root: dir.path, cacheDirectory: nil)
        context.workspace.observations = [:]
        prepare(context)
        let loader = WorkflowLoader(workspace: context.workspace, ops: FakeOps(), environment: environment)
        let m = WorkflowMemo(stateDirectory: context.stateDirectory, binary: binary, policy: policy)
        let (wf, outcome) = try context.workspace.observing(.loading) {
            memo ? try m.load(file: "flow.dag", overrides: overrides, loader: loader, workspace: context.workspace)
                 : (try loader.load(file: "flow.dag", overrides: overrides), nil)
        }
        return Load(workflow: wf, outcome: outcome, context: context)
    }

    /// Loads through the memo and without it: the same workflow, the same observations.
    @discardableResult
    func compare(_ dir: TemporaryDirectory, _ note: @autoclosure () -> String = "", binary: String = "flow test 1",
                 overrides: [String: String] = [:], environment: [String: String] = ["HOME": "/home/u"],
                 prepare: (RunContext) -> Void = { _ in }) throws -> WorkflowMemo.Outcome? {
        let memo = try load(dir, binary: binary, overrides: overrides, environment: environment, prepare: prepare)
        let plain = try load(dir, memo: false, overrides: overrides, environment: environment, prepare: prepare)
        #expect(memo.workflow.isIdentical(to: plain.workflow), "memo \(memo.outcome.map { "\($0)" } ?? "") and load differ \(note())")
        let (a, b) = (memo.context.workspace, plain.context.workspace)
        #expect(a.observations == b.observations && a.observers == b.observers && a.unsteadyPaths == b.unsteadyPaths,
                "the memo's observations differ from a load's \(note())\n\(a.observers)\n\(b.observers)")
        return memo.outcome
    }

    func isMiss(_ outcome: WorkflowMemo.Outcome?) -> Bool {
        if case .miss = outcome { return true }
        return false
    }

    @Test func anUnchangedWorkflowIsDecodedWithTheObservationsOfALoad() throws {
        let dir = try workspace()
        #expect(try compare(dir) == .miss("no memo"))
        #expect(try compare(dir) == .hit)
        #expect(try compare(dir) == .hit)
        // What the memo observed is what the fresh snapshot needs: every .dag, every listed
        // directory, and the kind of every input no step writes.
        let observers = try load(dir).context.workspace.observers
        #expect(observers["flow.dag"]?.workflow == true && observers["more.dag"]?.workflow == true && observers["src"]?.workflow == true)
        #expect(observers["data"]?.workflowKind == true && observers["cfg"]?.workflowKind == true)
    }

    /// Each thing the load depends on, changed: the memo is not used, the load is right, and
    /// the memo written then is used by the next load.
    @Test func everyChangeTheLoadDependsOnIsAMiss() throws {
        let dir = try workspace()
        try compare(dir)
        let changes: [(String, (TemporaryDirectory) throws -> Void)] = [
            ("the .dag edited", { try $0.write("flow.dag", Self.dag + "\n# a comment\n") }),
            ("an included .dag edited", { try $0.write("more.dag", Self.more.replacingOccurrences(of: "cat", with: "tac")) }),
            ("a file a glob matches added", { try $0.write("src/z.txt", "z\n") }),
            ("a file a glob matches removed", { try FileManager.default.removeItem(atPath: $0.path + "/src/x.txt") }),
            ("a directory input become a file", { d in
                try FileManager.default.removeItem(atPath: d.path + "/data")
                try d.write("data", "now a file\n")
            }),
            ("a file input become a directory", { d in
                try FileManager.default.removeItem(atPath: d.path + "/run.sh")
                try d.write("run.sh/x", "")
            }),
            ("a file named in a command removed", { try FileManager.default.removeItem(atPath: $0.path + "/run.sh") }),
        ]
        for (what, change) in changes {
            try change(dir)
            #expect(isMiss(try compare(dir, what)), "\(what) is not a miss")
            #expect(try compare(dir, what) == .hit, "the memo written after \(what) is used")
        }
    }

    @Test func theContextOfTheLoadIsPartOfTheMemo() throws {
        let dir = try workspace()
        try compare(dir)
        #expect(try compare(dir, overrides: ["n": "3"]) == .miss("set changed"))
        #expect(try compare(dir, overrides: ["n": "3"]) == .hit)
        #expect(try compare(dir) == .miss("set changed"))
        // A variable a step passes through, changed or unset; another one does not count.
        #expect(try compare(dir, environment: ["HOME": "/home/v"]) == .miss("env HOME changed"))
        #expect(try compare(dir, environment: [:]) == .miss("env HOME changed"))
        #expect(try compare(dir, environment: ["OTHER": "1"]) == .hit)
        #expect(try compare(dir, environment: ["HOME": "/home/u", "OTHER": "2"]) == .miss("env HOME changed"))
        #expect(try compare(dir, binary: "flow test 2") == .miss("binary changed"))
        #expect(try compare(dir, binary: "flow test 2") == .hit)
    }

    /// A file flow produced is no source: once recorded as produced, a glob no longer matches it.
    @Test func aMatchRecordedAsProducedIsAMiss() throws {
        let dir = try workspace()
        try compare(dir)
        let context = try RunContext(root: dir.path, cacheDirectory: nil)
        try context.state.recordProduced(step: "old", workflow: "flow.dag", [("src/y.txt", XXH128.hash("y\n"))])
        #expect(isMiss(try compare(dir)))
        #expect(try load(dir).workflow.step(named: "g[src/y.txt]") == nil)
    }

    /// Once results are known (the expansion of a fan-out over files a step writes), the memo is
    /// neither read nor written: the answer the memo holds is that of the first load.
    @Test func loadsWithKnownResultsBypassTheMemo() throws {
        let dir = try workspace()
        try compare(dir)
        let memoPath = WorkflowMemo(stateDirectory: dir.path + "/.flow", binary: "").path(file: "flow.dag")
        let before = try FileManager.default.attributesOfItem(atPath: memoPath)[.systemFileNumber] as? Int
        let manifest = Manifest(key: "k", step: "split", outputs: [
            Manifest.Output(path: "parts", kind: "directory", digest: "d", size: 0, executable: false,
                            entries: [Manifest.Entry(path: "a.txt", digest: "e", size: 0, executable: false),
                                      Manifest.Entry(path: "b.txt", digest: "e", size: 0, executable: false)]),
        ], exitStatus: 0, duration: 0, finishedAt: 0, log: nil, host: "h")
        let known = try compare(dir) { $0.workspace.knownResults["split"] = manifest }
        #expect(known == .bypassed)
        let expanded = try load(dir) { $0.workspace.knownResults["split"] = manifest }.workflow
        #expect(expanded.deferred.isEmpty && expanded.step(named: "per[parts/b.txt]") != nil)
        #expect(try FileManager.default.attributesOfItem(atPath: memoPath)[.systemFileNumber] as? Int == before)
        #expect(try compare(dir) == .hit)
    }

    /// By default a memo is kept only where it pays: not for a workflow that is mostly instances
    /// of fan-outs, which load about as fast as they decode; and the memo of the workflow it was
    /// before is removed then.
    @Test func aMemoIsKeptOnlyWhereItPays() throws {
        let dir = TemporaryDirectory("flow-memo-pays")
        let written = (0..<6).map { "step w\($0)\n  out w/\($0)\n  run echo \($0) > {out}\n" }.joined()
        let fanOut = "step f[i in 0..<7]\n  out f/{i}\n  run echo {i} > {out}\n"
        let path = WorkflowMemo(stateDirectory: dir.path + "/.flow", binary: "").path(file: "flow.dag")
        // 6 written steps and 7 instances: 6 of 13 repeat (instances after the first), not more than half.
        try dir.write("flow.dag", written + fanOut)
        #expect(isMiss(try load(dir, policy: .whenItPays).outcome))
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(try load(dir, policy: .whenItPays).outcome == .hit)
        // 6 written steps and 9 instances: 8 of 15 repeat, more than half.
        try dir.write("flow.dag", written + fanOut.replacingOccurrences(of: "0..<7", with: "0..<9"))
        #expect(isMiss(try load(dir, policy: .whenItPays).outcome))
        #expect(!FileManager.default.fileExists(atPath: path), "the memo of the workflow before is removed")
        #expect(isMiss(try load(dir, policy: .whenItPays).outcome))
        #expect(isMiss(try load(dir, policy: .always).outcome))
        #expect(try load(dir, policy: .always).outcome == .hit)
    }

    /// A memo file cut short, filled with garbage, with one byte changed, empty, or not a file:
    /// a normal load, which replaces it.
    @Test func aDamagedMemoIsHarmless() throws {
        let dir = try workspace()
        try compare(dir)
        let path = WorkflowMemo(stateDirectory: dir.path + "/.flow", binary: "").path(file: "flow.dag")
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        var flipped = good
        flipped[good.count / 2] ^= 0x20
        var rng = SeededGenerator(seed: 3)
        let damages: [(String, Data)] = [
            ("cut short", good.prefix(good.count / 3)),
            ("without its digest", good.dropLast(16)),
            ("a byte changed", flipped),
            ("empty", Data()),
            ("garbage", Data((0..<good.count).map { _ in UInt8.random(in: 0...255, using: &rng) })),
            ("another version", Data("flow-memo v0\n".utf8) + good.dropFirst(13)),
        ]
        for (what, bytes) in damages {
            try bytes.write(to: URL(fileURLWithPath: path))
            #expect(isMiss(try compare(dir, what)), "a memo \(what) is used")
            #expect(try compare(dir, what) == .hit, "a memo \(what) is replaced")
        }
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: path + "/x", withIntermediateDirectories: true)
        #expect(isMiss(try compare(dir, "a directory")))
    }

    /// A load with errors throws them as before and leaves no memo behind; the memo of the last
    /// good load is not used for the broken .dag.
    @Test func loadsWithErrorsAreNeverKept() throws {
        let dir = try workspace()
        try compare(dir)
        let path = WorkflowMemo(stateDirectory: dir.path + "/.flow", binary: "").path(file: "flow.dag")
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        try dir.write("more.dag", Self.more + "\n  cpus many\n")
        for _ in 0..<2 {
            #expect(throws: DAGErrors.self) { try load(dir) }
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == good)
        try dir.write("more.dag", Self.more)
        #expect(try compare(dir) == .hit, "the old memo holds again for the old text")
    }

    /// Random edits of a random workflow, and of what it reads: after each, a load through the
    /// memo equals a load without it, workflow and observations, and a second load is a hit.
    ///
    /// Environment: FLOW_MEMO_EDITS, edits per seed (default 40).
    @Test(arguments: [11, 12, 13, 14] as [UInt64])
    func memoizedLoadsEqualLoads(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let switches = RandomWorkflow.Switches(valueLists: true, gathers: true, producedFileFanouts: seed % 2 == 0)
        var workflow = RandomWorkflow(using: &rng, switches: switches)
        var overrides: [String: String] = [:]
        let dir = TemporaryDirectory("flow-memo-random")
        func write() throws {
            try dir.write("flow.dag", workflow.render())
            for (path, text) in workflow.sources { try dir.write(path, text) }
        }
        try write()
        var history: [String] = []
        var hits = 0, misses = 0, errors = 0
        var marked: Set<String> = []
        let edits = ProcessInfo.processInfo.environment["FLOW_MEMO_EDITS"].flatMap(Int.init) ?? 40
        for n in 1...edits {
            let note = "seed \(seed), edit \(n): \(history.joined(separator: "; "))\n\(workflow.render())"
            let plain = Result { try load(dir, memo: false, overrides: overrides) }
            if case .failure(let error) = plain {
                // Sources recorded as produced can leave a fan-out without instances: the memo
                // must fail the same way, and keep nothing.
                #expect(throws: (any Error).self) { try load(dir, overrides: overrides) }
                #expect("\((try? load(dir, overrides: overrides)).map { "\($0.workflow)" } ?? "\(error)")" == "\(error)", "\(note)")
                let context = try RunContext(root: dir.path, cacheDirectory: nil)
                for p in marked { try context.state.forgetProduced(p) }
                marked = []
                errors += 1
                history.append("(an error; produced marks forgotten)")
                continue
            }
            let outcome = try compare(dir, note, overrides: overrides)
            if outcome == .hit { hits += 1 } else { misses += 1 }
            #expect(try compare(dir, note, overrides: overrides) == .hit, "a second load is a hit: \(note)")
            var description: String
            switch Int.random(in: 0..<10, using: &rng) {
            case 0:
                // Same text written again: new signatures, same content.
                try dir.write("flow.dag", workflow.render())
                description = "rewrite flow.dag"
            case 1:
                // A source that a fan-out reads, recorded as produced by a step that left.
                let sources = workflow.sources.keys.filter { $0.hasPrefix("src/") }.sorted()
                let p = sources.randomElement(using: &rng)!
                let context = try RunContext(root: dir.path, cacheDirectory: nil)
                if Bool.random(using: &rng) {
                    try context.state.recordProduced(step: "gone", workflow: "flow.dag", [(p, XXH128.hash(p))])
                    marked.insert(p)
                    description = "mark \(p) produced"
                } else {
                    try context.state.forgetProduced(p)
                    marked.remove(p)
                    description = "forget \(p)"
                }
            case 2:
                // The output directory of a step appears, as a run would leave it (a directory
                // input's kind, a produced fan-out's directory).
                let instance = workflow.instances(overrides: overrides).randomElement(using: &rng)!
                let out = instance.outputs[0]
                try dir.write(out.hasSuffix("/") ? out + "a.txt" : out, "written\n")
                description = "write \(out)"
            default:
                let edit = workflow.randomEdit(overrides: overrides, using: &rng)
                workflow.apply(edit, overrides: &overrides)
                if case .deleteSource(let p) = edit { try FileManager.default.removeItem(atPath: dir.path + "/" + p) }
                if case .deleteOutput(let p) = edit { try? FileManager.default.removeItem(atPath: dir.path + "/" + p) }
                try write()
                description = edit.description
            }
            history.append(description)
        }
        #expect(hits > 0 && misses > 0 && errors < edits / 4, "hits \(hits), misses \(misses), errors \(errors)")
    }
}
