import Foundation
import FlowTestSupport
import Testing

/// Taking every output of a fan-out as inputs (Snakemake's `expand`), and globs over produced
/// files: checked at load time, in instance order, the same in a fresh checkout.
@Suite struct GatherTests {
    static let dag = """
        let n = 3
        step features[i in 0..<{n}]
          out emb = data/feat/{i}.emb
          out log = data/feat/{i}.log
          run echo emb {i} > {out.emb}; echo log {i} > {out.log}
        step join
          in  feats = features[*].out.emb
          out joined.txt
          run cat {in.feats} > {out}
        step everything
          in  features[*]
          out all.txt
          run cat {in} > {out}
        step globbed
          in  data/feat/*.emb
          out globbed.txt
          run cat {in} > {out}
        """

    @Test func aGatherTakesTheNamedOutputOfEveryInstanceInOrder() throws {
        let dir = TemporaryDirectory("flow-gather")
        try dir.write("flow.dag", Self.dag)
        let r = try FlowBinary.run(["run"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        #expect(try dir.read("joined.txt") == "emb 0\nemb 1\nemb 2\n")
        #expect(try dir.read("all.txt") == "emb 0\nlog 0\nemb 1\nlog 1\nemb 2\nlog 2\n")
        #expect(try dir.read("globbed.txt") == "emb 0\nemb 1\nemb 2\n", "a glob over produced files works in a fresh checkout")
        let smaller = try FlowBinary.run(["run", "--set", "n=2"], in: dir.path)
        #expect(smaller.status == 0, "\(smaller)")
        #expect(try dir.read("joined.txt") == "emb 0\nemb 1\n")
        #expect(try dir.read("globbed.txt") == "emb 0\nemb 1\n", "the glob still saw the vanished instance's output")
        #expect(try FlowBinary.run(["status", "--check", "--set", "n=2"], in: dir.path).status == 0)
    }

    @Test func aGatherMayNameAStepDefinedLater() throws {
        let dir = TemporaryDirectory("flow-gather")
        try dir.write("flow.dag", """
            step join
              in  parts[*]
              out joined.txt
              run cat {in} > {out}
            step parts[c in a, b]
              out parts/{c}.txt
              run echo {c} > {out}
            """)
        let r = try FlowBinary.run(["run"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        #expect(try dir.read("joined.txt") == "a\nb\n")
    }

    @Test(arguments: [
        ("step f[i in 0..<2]\n  out emb = f/{i}\n  run true\nstep j\n  in f[*].out.emd\n  out j\n  run true\n",
         "flow.dag:5:6: error: step 'f' has no output named 'emd'; did you mean 'emb'?"),
        ("step j\n  in j[*]\n  out j.txt\n  run true\n", "flow.dag:2:6: error: step 'j' cannot gather its own outputs"),
    ])
    func gatherErrorsAreLocated(dag: String, message: String) throws {
        let (r, _) = try FlowBinary.load(dag)
        #expect(r.status == 65, "\(r)")
        #expect(r.stderr.contains(message), "\(r)")
    }
}
