import FlowCore
import FlowTestSupport
import Testing

/// Every error of the .dag language, asserted in full: location, message, source line, caret.
@Suite struct LoaderErrorTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var source: String
        var expected: String
        /// `--set` values.
        var overrides: [String: String] = [:]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "unknown top-level keyword", source: "stpe pool\n", expected: """
            w.dag:1:1: error: expected 'let', 'external', 'include' or 'step', found 'stpe'; did you mean 'step'?
            stpe pool
            ^
            """),
        Case(name: "attribute outside a step", source: "  out x\n", expected: """
            w.dag:1:3: error: indented line outside a step (attributes belong under a 'step' line)
              out x
              ^
            """),
        Case(name: "unknown attribute", source: "step a\n  outt x\n  run true\n", expected: """
            w.dag:2:3: error: unknown step attribute 'outt'; did you mean 'out'?
              outt x
              ^
            """),
        Case(name: "unknown variable", source: "let seed = 0\nstep a\n  out x{sed}\n  run true\n", expected: """
            w.dag:3:9: error: unknown variable '{sed}'; did you mean 'seed'?
              out x{sed}
                    ^
            """),
        Case(name: "duplicate step", source: "step a\n  out x\n  run true\nstep a\n  out y\n  run true\n", expected: """
            w.dag:4:6: error: duplicate step 'a'
            step a
                 ^
            w.dag:1:6: note: first defined here
            """),
        Case(name: "two steps write one path", source: "step a\n  out x\n  run true\nstep b\n  out x\n  run true\n", expected: """
            w.dag:5:7: error: 'x' is written by both 'a' and 'b'
              out x
                  ^
            w.dag:1:6: note: 'a' is defined here
            """),
        Case(name: "output inside another output directory", source: "step a\n  out d/\n  run true\nstep b\n  out d/x\n  run true\n", expected: """
            w.dag:5:7: error: output 'd/x' of 'b' is inside output directory 'd/' of 'a'
              out d/x
                  ^
            """),
        Case(name: "cycle", source: "step a\n  in y\n  out x\n  run true\nstep b\n  in x\n  out y\n  run true\n", expected: """
            w.dag:1:6: error: dependency cycle: a -> b -> a
            step a
                 ^
            w.dag:5:6: note: 'b' is defined here
            """),
        Case(name: "missing input", source: "step a\n  in data/nothing.txt\n  out x\n  run true\n", expected: """
            w.dag:2:6: error: input 'data/nothing.txt' does not exist and no step produces it
              in data/nothing.txt
                 ^
            """),
        Case(name: "path escapes the workspace", source: "step a\n  out ../x\n  run true\n", expected: """
            w.dag:2:7: error: path '../x' escapes the workspace (paths are relative to the workspace root)
              out ../x
                  ^
            """),
        Case(name: "unknown op", source: "step a\n  out x\n  op embedd --out {out}\n", expected: """
            w.dag:3:6: error: unknown op 'embedd'; did you mean 'embed'?
              op embedd --out {out}
                 ^
            """),
        Case(name: "unknown option of an op", source: "step a\n  out x\n  op embed --modle m --out {out}\n", expected: """
            w.dag:3:12: error: op 'embed': Unknown option '--modle'; did you mean '--model'?
              op embed --modle m --out {out}
                       ^
            """),
        Case(name: "unknown step in after", source: "step a\n  out x\n  run true\nstep b\n  out y\n  after c\n  run true\n", expected: """
            w.dag:6:9: error: unknown step 'c' in 'after'
              after c
                    ^
            """),
        Case(name: "no command", source: "step a\n  out x\n", expected: """
            w.dag:1:6: error: step 'a' has no 'run' or 'op' line
            step a
                 ^
            """),
        Case(name: "no output", source: "step a\n  run true\n", expected: """
            w.dag:1:6: error: step 'a' declares no output ('out PATH'): flow caches steps by their outputs
            step a
                 ^
            """),
        Case(name: "bad memory size", source: "step a\n  out x\n  mem lots\n  run true\n", expected: """
            w.dag:3:7: error: 'mem' needs a size such as 512M, 4G or 1T, got 'lots'
              mem lots
                  ^
            """),
        Case(name: "range bound not an integer", source: "let n = many\nstep a[i in 0..<{n}]\n  out x{i}\n  run true\n", expected: """
            w.dag:2:17: error: range bound 'many' is not an integer
            step a[i in 0..<{n}]
                            ^
            """),
        Case(name: "unterminated placeholder", source: "step a\n  out x\n  run echo {oops > {out}\n", expected: """
            w.dag:3:12: error: invalid placeholder '{oops > {out}'
              run echo {oops > {out}
                       ^
            """),
        Case(name: "unknown input name", source: "step a\n  in m = w.dag\n  out x\n  run cat {in.model} > {out}\n", expected: """
            w.dag:4:12: error: unknown input name '{in.model}'
              run cat {in.model} > {out}
                       ^
            """),
        Case(name: "duplicate variable", source: "let a = 1\nlet a = 2\n", expected: """
            w.dag:2:5: error: variable 'a' is already defined
            let a = 2
                ^
            w.dag:1:5: note: first defined here
            """),
        Case(name: "absolute input names the explicit form", source: "step a\n  in /datasets/imagenet/train/\n  out x\n  run true\n", expected: """
            w.dag:2:6: error: path '/datasets/imagenet/train/' escapes the workspace (paths are relative to the workspace root); to read data that lives outside it, declare it at the top level, 'external data = /datasets/imagenet/train', and read it as 'in {data}'
              in /datasets/imagenet/train/
                 ^
            """),
        Case(name: "absolute input outside every external root", source: "external imagenet = /datasets/imagenet\nstep a\n  in /datasets/imagenet2/x\n  out x\n  run true\n", expected: """
            w.dag:3:6: error: path '/datasets/imagenet2/x' escapes the workspace (paths are relative to the workspace root); to read data that lives outside it, declare it at the top level, 'external data = /datasets/imagenet2/x', and read it as 'in {data}'
              in /datasets/imagenet2/x
                 ^
            """),
        Case(name: "external root not absolute", source: "external imagenet = datasets/imagenet\n", expected: """
            w.dag:1:21: error: external 'imagenet' must be an absolute path, not 'datasets/imagenet': it names data outside the workspace (data inside it is read by its relative path)
            external imagenet = datasets/imagenet
                                ^
            """),
        Case(name: "external root is the whole file system", source: "external all = /\n", expected: """
            w.dag:1:16: error: external 'all' cannot be the whole file system ('/'): name the directory that holds the data
            external all = /
                           ^
            """),
        Case(name: "output under external data", source: "external imagenet = /datasets/imagenet\nstep a\n  out {imagenet}/cache.npy\n  run true\n", expected: """
            w.dag:3:7: error: output '/datasets/imagenet/cache.npy' is inside external data 'imagenet' (/datasets/imagenet): flow never writes there; outputs belong in the workspace
              out {imagenet}/cache.npy
                  ^
            """),
        Case(name: "toolchain without '='", source: "step a\n  toolchain python .venv/bin/python\n  out x\n  run true\n", expected: """
            w.dag:2:13: error: expected 'toolchain NAME = EXECUTABLE [ARGS...]' (e.g. 'toolchain python = .venv/bin/python -m pip freeze')
              toolchain python .venv/bin/python
                        ^
            """),
        Case(name: "toolchain declared twice", source: "step a\n  toolchain py = /usr/bin/python3\n  toolchain py = /usr/bin/python3 --version\n  out x\n  run true\n", expected: """
            w.dag:3:13: error: toolchain 'py' is declared twice in step 'a'
              toolchain py = /usr/bin/python3 --version
                        ^
            """),
        Case(name: "external indented", source: "step a\n  external d = /data\n  out x\n  run true\n", expected: """
            w.dag:2:3: error: 'external' must start its line (it is indented)
              external d = /data
              ^
            """),
        Case(name: "duplicate value in a list", source: "step s[C in 1, 1, 2]\n  out o/{C}\n  run touch {out}\n", expected: """
            w.dag:1:16: error: value '1' appears twice in this list
            step s[C in 1, 1, 2]
                           ^
            """),
        Case(name: "duplicate value in a list held in a variable", source: "let Cs = 0.1, 1, 0.1\nstep s[C in {Cs}]\n  out o/{C}\n  run touch {out}\n", expected: """
            w.dag:2:13: error: value '0.1' appears twice in this list ('{Cs}' is '0.1, 1, 0.1')
            step s[C in {Cs}]
                        ^
            """),
        Case(name: "duplicate value in a list given by --set", source: "let Cs = 1, 2\nstep s[C in {Cs}, seed in 0..<2]\n  out o/{C}-{seed}\n  run touch {out}\n", expected: """
            w.dag:2:13: error: value '2' appears twice in this list ('{Cs}' is '2,3,2')
            step s[C in {Cs}, seed in 0..<2]
                        ^
            """, overrides: ["Cs": "2,3,2"]),
        Case(name: "gather of a misspelt step", source: "step features[i in 0..<2]\n  out f/{i}.txt\n  run touch {out}\nstep join\n  in  featurs[*]\n  out all.txt\n  run cat {in} > {out}\n", expected: """
            w.dag:5:7: error: no step named 'featurs'; did you mean 'features'?
              in  featurs[*]
                  ^
            """),
        Case(name: "include of a missing file", source: "include other.dag\n", expected: """
            w.dag:1:9: error: cannot read included file 'other.dag': No such file or directory
            include other.dag
                    ^
            """),
    ]

    @Test(arguments: cases)
    func errorText(_ c: Case) throws {
        let loader = WorkflowLoader(workspace: InMemoryWorkspace(["w.dag": c.source]), ops: FakeOps())
        #expect {
            _ = try loader.load(file: "w.dag", overrides: c.overrides)
        } throws: { error in
            guard let e = error as? DAGErrors else { return false }
            #expect(e.description == c.expected)
            return e.description == c.expected
        }
    }

    @Test func anIncludeThatLinksOutOfTheWorkspaceIsRefused() throws {
        let workspace = InMemoryWorkspace(["w.dag": "include conf/site.dag\n"])
        workspace.links["conf"] = "/etc/flow"
        let loader = WorkflowLoader(workspace: workspace, ops: FakeOps())
        let expected = """
            w.dag:1:9: error: include path 'conf/site.dag' leads outside the workspace (to '/etc/flow/site.dag'): \
            an included file must be inside the workspace
            include conf/site.dag
                    ^
            """
        #expect {
            _ = try loader.load(file: "w.dag")
        } throws: { error in
            (error as? DAGErrors)?.description == expected
        }
        // Within the workspace, a link is followed.
        workspace.links["conf"] = "shared/conf"
        workspace.files["shared/conf/site.dag"] = "let x = 1\n"
        workspace.files["w.dag"] = "include conf/site.dag\nstep s\n  out o{x}\n  run true\n"
        #expect(try loader.load(file: "w.dag").steps.map(\.outputs.first?.path) == ["o1"])
    }

    @Test func everyErrorIsReportedNotJustTheFirst() throws {
        let source = "stpe a\nstep b\n  outt x\n  run true\n"
        let loader = WorkflowLoader(workspace: InMemoryWorkspace(["w.dag": source]), ops: FakeOps())
        #expect(throws: DAGErrors.self) { try loader.load(file: "w.dag") }
        do { _ = try loader.load(file: "w.dag") } catch let e as DAGErrors {
            #expect(e.errors.map(\.location.line) == [1, 3])
            #expect(e.exitCode == 65)
        }
    }

    @Test func unknownSetVariableIsAUsageError() throws {
        let loader = WorkflowLoader(workspace: InMemoryWorkspace(["w.dag": "let seed = 0\n"]), ops: FakeOps())
        #expect {
            _ = try loader.load(file: "w.dag", overrides: ["sed": "1"])
        } throws: { error in
            "\(error)" == "error: --set sed: no variable 'sed' in w.dag; did you mean 'seed'?"
        }
    }
}
