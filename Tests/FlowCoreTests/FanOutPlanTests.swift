@testable import FlowCore
import FlowTestSupport
import Testing

/// The fast path for fan-out instances (`FanOutPlan`) makes the same workflow, or the same
/// errors, as the general path alone: compared on fan-outs of every kind, with instances that
/// fail or leave the fast path among the others.
@Suite struct FanOutPlanTests {
    /// The workflow (or the errors, as printed) with and without the fast path.
    func bothWays(_ source: String, files: [String: String], expansionLimit: Int = LoaderState.maxExpandedBytes,
                  batch: Int = 1 << 16) -> (fast: String, general: String) {
        var all = files
        all["w.dag"] = source
        func load(fast: Bool) -> String {
            var loader = WorkflowLoader(workspace: InMemoryWorkspace(all), ops: FakeOps(), environment: ["HOME": "/home/u"])
            loader.usesFanOutPlans = fast
            loader.expansionLimit = expansionLimit
            loader.fanOutBatch = batch
            do {
                return describe(try loader.load(file: "w.dag"))
            } catch {
                return "error: \(error)"
            }
        }
        return (load(fast: true), load(fast: false))
    }

    /// Every field of every step, shared ones included, and which instances share one storage.
    func describe(_ wf: Workflow) -> String {
        var storages: [ObjectIdentifier: Int] = [:]
        var lines = wf.steps.map { s in
            let shared = storages[ObjectIdentifier(s.storage), default: storages.count]
            storages[ObjectIdentifier(s.storage)] = shared
            return "\(s.id.rawValue) \(s.name) \(s.action) in \(s.inputs) out \(s.outputs) deps \(s.dependencies) dependents \(s.dependents) " +
                "parameters \(s.parameters) explicit \(s.explicitParameters.map { "\($0)" } ?? "-") shared #\(shared) \(describe(s.storage.value))"
        }
        lines.append("order \(wf.order) variables \(wf.variables.sorted { $0.key < $1.key }) files \(wf.files)")
        lines.append("deferred \(wf.deferred) warnings \(wf.warnings) externals \(wf.externals)")
        return lines.joined(separator: "\n")
    }

    /// The shared fields, dictionaries sorted: two equal dictionaries may list their entries in
    /// different orders.
    func describe(_ v: Step.Shared) -> String {
        "\(v.baseName) \(v.location) \(v.resources) env \(v.environment.sorted { $0.key < $1.key }) \(v.retries) \(v.timeout) " +
            "\(v.checkpoint) \(v.metrics) \(String(describing: v.executor)) \(v.cluster) \(v.after) \(v.toolchains) " +
            "variables \(v.variables.sorted { $0.key < $1.key }) \(v.parameterName ?? "-")"
    }

    static let files = ["src/a.txt": "", "src/b c.txt": "", "src/it's.txt": "", "src/d/e.txt": "", "common.txt": "", "tools/run.sh": ""]

    static let cases: [String] = [
        // Ranges, quoting contexts, formats, named lists, a directory output, variables in paths.
        """
        let root = data
        let flags = -v -x
        step s[i in 0..<5]
          in data = common.txt
          out res = {root}/{i:04}.txt
          out {root}/./{i}/
          run echo "{i}" '{i}' {i:raw} {flags} {flags:raw} "$(cat {in.data})" `echo {out.res}` > {out} "{out}" {step} '{step}'
        """,
        // Values with blanks and quotes, a list domain, settings and environment that do not vary.
        """
        let n = 3
        step t[x in a, it's, "b c", d$e, {n}]
          out t/{x}
          run printf '%s\\n' {x} "{x}" '{x}' > {out}
          cpus 2
          mem 1G
          env A=1 B={n}
          env HOME
          checkpoint
        step u[i in 1...{n}]
          in t[*]
          out u/{i}
          run cat {in} > {out}
          after t
        """,
        // A product of domains; one whose environment does vary; an expression domain.
        """
        let Cs = 0.1, 1
        let span = 0..<2
        step p[C in {Cs}, seed in 0..<3]
          out p/{C}-{seed}
          run train --C {C} --seed {seed} > {out}
        step q[i in {span}]
          out q/{i}
          run echo > {out}
          env N={i}
        step r[i in {span}, j in {span}]
          out r/{i}{j}
          run echo {i}{j} > {out}
        """,
        // A glob domain with the parts of each path; a toolchain; untracked files.
        """
        step g[f in src/*.txt]
          in {f}
          in common.txt
          out out/{f.stem}.o out/{f.dir}/{f.name}.copy
          run cat {in} > {out}; echo {f.name} {f.stem} {f.dir} "{f}"
          toolchain sh = tools/run.sh --version
          untracked tools
        """,
        // Some instances leave the workspace, write flow's own directory, become globs, fail a
        // format: each is reported as the general path reports it.
        """
        step e[x in a, ../b, c, .flow/x, *, 7, d]
          out e/../{x}
          run echo {x} > {out}
        step n[x in 1, 2, x, 3]
          out n/{x}
          run echo {x:03} > {out}
        """,
        """
        step f[x in a, b, *.txt, c]
          in {x}
          out f/{x}
          run cat {in} > {out}
        """,
        // An output of one instance written by another; metrics that vary; an op.
        """
        step h[i in 0..<4]
          out h/{i}
          metrics m = h/{i}.json
          run echo > {out}
        step k[i in 0..<3]
          out k/same
          run echo {i} > {out}
        step o[i in 0..<2]
          out o/{i}
          op embed --model m --shards {i} --out {out}
        """,
        // An unknown name, a placeholder that fails in every instance; no output in one.
        """
        step v[i in 0..<3]
          out v/{i}
          run echo {nope} > {out}
        step w[x in a, b]
          out {x:raw}
          run echo {step} > {out}
        """,
    ]

    /// The comparisons are not empty: the first cases load without an error, and the fast path
    /// makes most of their instances.
    @Test(arguments: 0..<4) func fastPathMakesTheOtherInstances(_ index: Int) throws {
        var files = Self.files
        files["w.dag"] = Self.cases[index]
        var state = LoaderState(loader: WorkflowLoader(workspace: InMemoryWorkspace(files), ops: FakeOps()))
        try state.read(file: "w.dag", includedFrom: nil)
        state.bindVariables(overrides: [:])
        state.elaborateSteps()
        state.link()
        #expect(state.errors.isEmpty, "\(state.errors)")
        #expect(state.plannedInstances > 0 && state.plannedInstances * 2 >= state.steps.count)
    }

    @Test(arguments: cases) func sameWorkflowBothWays(_ source: String) {
        let (fast, general) = bothWays(source, files: Self.files)
        #expect(fast == general)
    }

    /// Fan-outs large enough to be rendered in chunks on every core, one with an instance in two
    /// that fails (an output that is a glob) and takes the general path.
    @Test func sameWorkflowOnLargeFanOuts() {
        for source in ["step q[i in 0..<10000]\n  out q/{i:05}\n  run echo {i} > {out}\n",
                       "step p[i in 0..<5000, x in a, *]\n  out p/{i}/{x}\n  run echo {x} > {out}\n"] {
            let (fast, general) = bothWays(source, files: [:])
            #expect(fast == general)
        }
    }

    /// The expansion limit crossed in the middle of a fan-out rendered in chunks: the same error
    /// at the same instance, and no batch holds more text than the limit allows.
    @Test func sameErrorWhereTheExpansionLimitIsCrossed() {
        let source = "let v = 0123456789\nstep q[i in 0..<20000]\n  out q/{i}\n  env A={v}\n  run echo {v}{v}{v}{v}{v} {i} > {out}\n"
        for limit in [256 << 10, 1 << 20, 1_500_000] {
            for batch in [1 << 16, 1000, 7] {
                let (fast, general) = bothWays(source, files: [:], expansionLimit: limit, batch: batch)
                #expect(fast == general && fast.hasPrefix("error: w.dag:"), "\(fast.prefix(300))")
            }
        }
    }

    /// Batches smaller than the fan-out: each is rendered while the one before is taken, and
    /// the instances that must take the general path (an output in flow's own directories, a
    /// duplicate output) do so in their turn, in any batch.
    @Test(arguments: [1, 2, 3, 64])
    func sameWorkflowAcrossBatches(_ batch: Int) {
        let source = """
            let items = a, b, c, d, e, f, g, h, i, j, k, l, m
            step first[i in 0..<3]
              out first/{i}
              run echo {i} > {out}
            step p[x in {items}, n in 0..<3]
              in first/{n}
              out p/{x}/{n}
              run cat {in} > {out}
            step dup[i in 0..<9, j in 0..<2]
              out d/{i}
              run echo {i} {j} > {out}
            step own[x in a, b, c, d, e, .flow, f]
              out {x}/o
              run echo {x} > {out}
            """
        let parts = source.components(separatedBy: "step ")
        let (owned, ownedGeneral) = bothWays(source, files: [:], batch: batch)
        #expect(owned == ownedGeneral && owned.contains("'.flow/o' is flow's own"), "\(owned.prefix(300))")
        let (dup, dupGeneral) = bothWays(parts[0...3].joined(separator: "step "), files: [:], batch: batch)
        #expect(dup == dupGeneral && dup.contains("written by both"), "\(dup.prefix(300))")
        let (fine, plain) = bothWays(parts[0...2].joined(separator: "step "), files: [:], batch: batch)
        #expect(fine == plain && !fine.hasPrefix("error"), "\(fine.prefix(300))")
        #expect(fine.components(separatedBy: " p[").count == 13 * 3 + 1)
    }

    /// Random workflows of every form the generator knows.
    @Test func sameWorkflowOnRandomWorkflows() {
        let switches = RandomWorkflow.Switches.all
        for seed in 0..<200 {
            var rng = SeededGenerator(seed: UInt64(seed))
            let workflow = RandomWorkflow(using: &rng, switches: switches)
            let (fast, general) = bothWays(workflow.render(), files: workflow.sources)
            #expect(fast == general, "seed \(seed)")
        }
    }
}
