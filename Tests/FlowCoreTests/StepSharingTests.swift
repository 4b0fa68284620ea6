@testable import FlowCore
import FlowTestSupport
import Testing

/// A fan-out's instances hold what they share once (`Step.Shared`); their parameters come from
/// their names (one domain) or are held (a product); a field written on one instance changes
/// only that instance.
@Suite struct StepSharingTests {
    func load(_ source: String, files: [String: String] = [:]) throws -> Workflow {
        var all = files
        all["w.dag"] = source
        return try WorkflowLoader(workspace: InMemoryWorkspace(all), ops: FakeOps()).load(file: "w.dag")
    }

    @Test func fanOutInstancesShareTheirCommonFields() throws {
        let wf = try load("""
            let seed = 0
            step s[i in 0..<3]
              out out/{i}
              run echo {i} {seed} > {out}
              cpus 2
            step g[f in src/*.txt]
              in {f}
              out out/{f.stem}
              run cat {in} > {out}
            step t[C in 0.1, 1, seed2 in 0..<2]
              out t/{C}-{seed2}
              run echo {C} {seed2} > {out}
            step e[i in 0..<2]
              out e/{i}
              run echo > {out}
              env N={i}
            step a[i in 0..<2]
              out a/{i}
              run echo > {out}
              after s
            """, files: ["src/a,b.txt": "", "src/c.txt": ""])
        let s = wf.steps.filter { $0.baseName == "s" }
        #expect(s.count == 3 && s.allSatisfy { $0.storage === s[0].storage })
        #expect(s.map(\.parameters) == (0..<3).map { [Parameter(name: "i", value: String($0))] })
        #expect(s[2].resources.cpus == 2 && s[2].variables == ["seed": "0"])
        #expect(wf.step(named: "g[src/a,b.txt]")!.parameters == [Parameter(name: "f", value: "src/a,b.txt")])
        #expect(wf.step(named: "t[1,0]")!.parameters == [Parameter(name: "C", value: "1"), Parameter(name: "seed2", value: "0")])
        #expect(wf.steps.filter { $0.baseName == "t" }.map(\.name) == ["t[0.1,0]", "t[0.1,1]", "t[1,0]", "t[1,1]"])
        let e = wf.steps.filter { $0.baseName == "e" }
        #expect(e.map(\.environment) == [["N": "0"], ["N": "1"]] && e[0].storage !== e[1].storage)
        let a = wf.steps.filter { $0.baseName == "a" }
        #expect(a.allSatisfy { $0.after == s.map(\.id) && $0.storage === a[0].storage })
        var changed = s[1]
        changed.resources.cpus = 4
        #expect(changed.resources.cpus == 4 && s[1].resources.cpus == 2 && s[0].storage === s[1].storage)
        #expect(changed != s[1])
    }
}
