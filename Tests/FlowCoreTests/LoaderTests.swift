import FlowCore
import FlowTestSupport
import Testing

/// What the loader builds from valid workflows.
@Suite struct LoaderTests {
    func load(_ source: String, files: [String: String] = [:], overrides: [String: String] = [:]) throws -> Workflow {
        var all = files
        all["w.dag"] = source
        return try WorkflowLoader(workspace: InMemoryWorkspace(all), ops: FakeOps(), environment: ["HOME": "/home/u"])
            .load(file: "w.dag", overrides: overrides)
    }

    @Test func fanOutNamedInputsAndEdges() throws {
        let wf = try load("""
            let seed = 0
            step pool
              out data/pool/
              op synth-images --count 10 --seed {seed} --out {out}
            step embed[i in 0..<2]
              in shard = data/pool/shard-{i:06}.tar
              in model = m.safetensors
              out data/emb/{i:06}.npy
              op embed --model {in.model} --shards {in.shard} --out {out}
              cpus 2
              env HOME
            """, files: ["m.safetensors": ""])
        #expect(wf.steps.map(\.name) == ["pool", "embed[0]", "embed[1]"])
        let e1 = wf.step(named: "embed[1]")!
        #expect(e1.action == .op(name: "embed", version: 3,
                                 arguments: ["--model", "m.safetensors", "--shards", "data/pool/shard-000001.tar", "--out", "data/emb/000001.npy"]))
        #expect(e1.dependencies == [wf.step(named: "pool")!.id])
        #expect(e1.resources.cpus == 2)
        #expect(e1.environment == ["HOME": "/home/u"])
        #expect(wf.step(named: "pool")!.variables == ["seed": "0"])
        #expect(wf.step(named: "pool")!.outputs == [PathRef(path: "data/pool", isDirectory: true)])
    }

    /// The parser cuts names, values and commands out of arrays of scalars; text beyond ASCII
    /// must come out as it went in.
    @Test func textBeyondASCIIComesThroughWhole() throws {
        let wf = try load("""
            let greeting = grüße 🙂
            step greet[v in α, β]
              out out/{v}.txt
              run echo "{greeting:raw} {v:raw} – ok" > {out}
            """)
        #expect(wf.steps.map(\.name) == ["greet[α]", "greet[β]"])
        #expect(wf.steps[0].action == .shell("echo \"grüße 🙂 α – ok\" > 'out/α.txt'"))
    }

    @Test func stepHeadersTakeTrailingComments() throws {
        let wf = try load("""
            step a   # the first step
              out a.txt
              run true
            step b[i in 0..<2]   # one per shard [see docs]
              in  a.txt
              out b{i}.txt
              run true
            """)
        #expect(wf.steps.map(\.name) == ["a", "b[0]", "b[1]"])
    }

    @Test func overridesFlowThroughDerivedVariables() throws {
        let wf = try load("let a = 1\nlet b = {a}0\nstep s\n  out x{b}\n  run true\n", overrides: ["a": "2"])
        #expect(wf.steps[0].outputs[0].path == "x20")
        #expect(wf.steps[0].variables == ["a": "2", "b": "20"])
    }

    @Test func includesAndAfter() throws {
        let wf = try load("include lib.dag\nstep b\n  out y\n  after a\n  run true\n",
                          files: ["lib.dag": "step a\n  out x\n  run true\n"])
        #expect(wf.order.map { wf[$0].name } == ["a", "b"])
        #expect(wf.step(named: "b")!.dependencies == [wf.step(named: "a")!.id])
    }

    @Test func continuationLinesAndQuotes() throws {
        let wf = try load("step s\n  out x\n  run echo one \\\n      two > {out}\n")
        #expect(wf.steps[0].action == .shell("echo one two > x"))
    }

    @Test func closureAndDownstream() throws {
        let wf = try load("step a\n  out x\n  run true\nstep b\n  in x\n  out y\n  run true\nstep c\n  out z\n  run true\n")
        let b = wf.step(named: "b")!.id
        #expect(wf.closure(of: [b]).map { wf[$0].name }.sorted() == ["a", "b"])
        #expect(wf.downstream(of: [wf.step(named: "a")!.id]).map { wf[$0].name } == ["b"])
    }

    @Test func externalDataIsReadByAbsolutePathAndBoundAsAVariable() throws {
        let wf = try load("""
            external imagenet = /datasets/imagenet/
            step train
              in {imagenet}/train/
              in labels = {imagenet}/../imagenet/labels.txt
              out m.txt
              run python3 train.py {imagenet}/train {in.labels} > {out}
              untracked train.py
            """, files: ["/datasets/imagenet/train/a.jpg": "", "/datasets/imagenet/labels.txt": ""])
        #expect(wf.externals == [ExternalRoot(name: "imagenet", path: "/datasets/imagenet")])
        let step = try #require(wf.step(named: "train"))
        #expect(step.inputs.map(\.path) == ["/datasets/imagenet/train", "/datasets/imagenet/labels.txt"])
        #expect(step.inputs.allSatisfy(\.isExternal) && step.inputs[0].isDirectory)
        #expect(step.action == .shell("python3 train.py /datasets/imagenet/train /datasets/imagenet/labels.txt > m.txt"))
        // Another mount point, as on a cluster: `--set` moves the root.
        let moved = try load("external d = /a\nstep s\n  in {d}/x\n  out o\n  run true\n", files: ["/b/x": ""], overrides: ["d": "/b"])
        #expect(moved.externals.map(\.path) == ["/b"] && moved.steps[0].inputs.map(\.path) == ["/b/x"])
    }

    @Test func toolchainsAreParsedAndTheirExecutableIsDeclared() throws {
        let wf = try load("""
            let py = .venv/bin/python
            step train
              toolchain python = ./{py} -m pip freeze
              toolchain sh = sh
              out m.txt
              run .venv/bin/python train.py > {out}
              untracked train.py
            """, files: [".venv/bin/python": "", "train.py": ""])
        let step = try #require(wf.step(named: "train"))
        #expect(step.toolchains.map(\.name) == ["python", "sh"])
        #expect(step.toolchains[0].executable == ".venv/bin/python" && step.toolchains[0].arguments == ["-m", "pip", "freeze"])
        #expect(step.toolchains[1].executable == "sh" && step.toolchains[1].arguments.isEmpty)
        #expect(step.variables == ["py": ".venv/bin/python"])
        // The interpreter is declared by its toolchain: no "does not declare" warning for it.
        #expect(wf.warnings.isEmpty, "\(wf.warnings)")
    }
}
