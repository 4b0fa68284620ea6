import Foundation
import FlowTestSupport
import Testing

/// Sweeps: fan-outs over lists of values, lists held in variables and set with `--set`, and
/// products of domains; a fan-out of no instance is an error at its place in the file.
@Suite struct SweepTests {
    func ran(_ r: ProcessResult) -> [String] {
        r.stdout.split(separator: "\n").compactMap { line in
            guard let range = line.range(of: "] ran ") else { return nil }
            return String(line[range.upperBound...].split(separator: " ")[0])
        }.sorted()
    }

    @Test func aListOfValues() throws {
        let dir = TemporaryDirectory("flow-sweep")
        try dir.write("flow.dag", """
            step train[C in 0.01, 0.1, 1]
              out results/C-{C}.txt
              run echo C={C} > {out}
            """)
        let r = try FlowBinary.run(["run"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        #expect(ran(r) == ["train[0.01]", "train[0.1]", "train[1]"], "\(r)")
        #expect(try dir.read("results/C-0.1.txt") == "C=0.1\n")
    }

    @Test func aListInAVariableOverriddenWithSetKeepsWhatItShares() throws {
        let dir = TemporaryDirectory("flow-sweep")
        try dir.write("flow.dag", """
            let Cs = 0.01,0.1,1
            step train[C in {Cs}]
              out results/C-{C}.txt
              run echo C={C} > {out}
            step report
              in  results/
              out report.txt
              run cat results/* > {out}
            """)
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        let more = try FlowBinary.run(["run", "--set", "Cs=0.1, 1, 10"], in: dir.path)
        #expect(more.status == 0, "\(more)")
        #expect(ran(more) == ["report", "train[10]"], "only the new value and the report run: \(more)")
        #expect(try dir.read("report.txt") == "C=0.1\nC=1\nC=10\n")
        let one = try FlowBinary.run(["run", "--set", "Cs=10"], in: dir.path)
        #expect(one.status == 0 && ran(one) == ["report"], "a one-value list: \(one)")
        #expect(try dir.read("report.txt") == "C=10\n")
    }

    @Test func aProductOfDomains() throws {
        let dir = TemporaryDirectory("flow-sweep")
        try dir.write("flow.dag", """
            let Cs = 0.1, 1
            step train[C in {Cs}, seed in 0..<3]
              out results/{C}-{seed}.txt
              run echo {C} {seed} {step} > {out}
            """)
        let r = try FlowBinary.run(["run"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        #expect(ran(r).count == 6, "\(r)")
        #expect(try dir.read("results/1-2.txt") == "1 2 train[1,2]\n")
        let status = try FlowBinary.run(["status", "train[0.1,0]"], in: dir.path)
        #expect(status.status == 0 && status.stdout.contains("train[0.1,0]"), "\(status)")
    }

    @Test(arguments: [
        ("step s[f in src/*.txt]\n  out o/{f.name}\n  run true\n", "flow.dag:1:13: error: this fan-out has no instance: 'src/*.txt' matches no file"),
        ("let Cs =\nstep s[C in {Cs}]\n  out o/{C}\n  run true\n", "flow.dag:2:13: error: this fan-out has no instance: '{Cs}' is empty"),
        ("step s[i in 3..<3]\n  out o/{i}\n  run true\n", "flow.dag:1:13: error: this fan-out has no instance: the range 3..<3 is empty"),
        ("step s[C in 1, 2 seed in 0..<2]\n  out o/{C}\n  run true\n", "flow.dag:1:18: error: separate the domains of a product with ','"),
        ("step s[C in 1, C in 2]\n  out o/{C}\n  run true\n", "flow.dag:1:16: error: fan-out variable 'C' is used twice"),
    ])
    func emptyAndMalformedFanOutsAreErrorsAtTheirPlace(dag: String, message: String) throws {
        let (r, _) = try FlowBinary.load(dag, ["run"])
        #expect(r.status == 65, "\(r)")
        #expect(r.stderr.contains(message), "\(r)")
        #expect(r.stderr.contains("^"), "no caret: \(r)")
    }

    @Test func aBrokenOrIndentedStepLineIsOneErrorNotACascade() throws {
        for dag in ["  step s\n    out o.txt\n    run true\n", "step s[C in 1, 2 seed in 0..<2]\n  out o/{C}\n  run true\n"] {
            let dir = TemporaryDirectory("flow-sweep")
            try dir.write("flow.dag", dag)
            let r = try FlowBinary.run(["status"], in: dir.path)
            #expect(r.status == 65 && r.stderr.contains("1 error; nothing was run"), "\(r)")
        }
    }

    @Test func allowEmptyAcceptsAFanOutOfNoInstance() throws {
        let dir = TemporaryDirectory("flow-sweep")
        try dir.write("flow.dag", "step s[f in src/*.txt]\n  allow-empty\n  out o/{f.name}\n  run true\nstep t\n  out t.txt\n  run echo > {out}\n")
        let r = try FlowBinary.run(["run"], in: dir.path)
        #expect(r.status == 0, "\(r)")
    }
}
