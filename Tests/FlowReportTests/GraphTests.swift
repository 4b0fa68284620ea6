import FlowCore
import FlowRuntime
import FlowTestSupport
import Testing
@testable import FlowReport

/// The graph model (grouping, states), its DOT and Mermaid text, and the state rules.
@Suite struct GraphModelTests {
    static func workflow(_ dag: String) throws -> Workflow {
        try WorkflowLoader(workspace: InMemoryWorkspace(["flow.dag": dag]), ops: FakeOps()).load(file: "flow.dag", overrides: [:])
    }

    func dag(parts: Int) -> String {
        let inputs = (0..<parts).map { "data/part\($0).txt" }.joined(separator: " ")
        return """
            step pool
              out data/pool.txt
              run echo > {out}
            step part[i in 0..<\(parts)]
              in  data/pool.txt
              out data/part{i}.txt
              run cp {in} {out}
            step merge
              in  \(inputs)
              out data/all.txt
              run cat {in} > {out}
            """
    }

    @Test func smallFanOutGetsOneNodePerInstance() throws {
        let wf = try Self.workflow(dag(parts: 3))
        let model = GraphModel(workflow: wf, states: ["pool": .fresh, "part[1]": .failed], groupAbove: 8)
        #expect(model.nodes.map(\.label) == ["pool", "part[0]", "part[1]", "part[2]", "merge"])
        #expect(model.nodes.map(\.state) == [.fresh, .stale, .failed, .stale, .stale])
        #expect(Set(model.edges) == [GraphEdge(from: 0, to: 1), GraphEdge(from: 0, to: 2), GraphEdge(from: 0, to: 3),
                                     GraphEdge(from: 1, to: 4), GraphEdge(from: 2, to: 4), GraphEdge(from: 3, to: 4)])
    }

    @Test func largeFanOutIsOneNodeWithCountsAndWorstState() throws {
        let wf = try Self.workflow(dag(parts: 12))
        var states: [String: NodeState] = [:]
        for i in 0..<12 { states["part[\(i)]"] = i < 10 ? .fresh : .stale }
        states["pool"] = .fresh
        states["merge"] = .fresh
        let model = GraphModel(workflow: wf, states: states, groupAbove: 8)
        #expect(model.nodes.map(\.label) == ["pool", "part[×12]", "merge"])
        #expect(model.nodes[1].state == .stale)
        #expect(model.nodes[1].stateSummary == "2 stale, 10 fresh")
        #expect(model.nodes[1].members.count == 12)
        #expect(model.edges == [GraphEdge(from: 0, to: 1), GraphEdge(from: 1, to: 2)])
    }

    @Test func dotText() throws {
        let wf = try Self.workflow(dag(parts: 2))
        let model = GraphModel(workflow: wf, states: ["pool": .fresh, "part[0]": .restorable, "part[1]": .running, "merge": .stale])
        #expect(model.dot() == """
            digraph flow {
              rankdir=TB;
              node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];
              edge [color="#607d8b"];
              n0 [label="pool", fillcolor="#c8e6c9", color="#2e7d32", tooltip="fresh"];
              n1 [label="part[0]", fillcolor="#bbdefb", color="#1565c0", tooltip="restorable"];
              n2 [label="part[1]", fillcolor="#e1bee7", color="#6a1b9a", tooltip="running"];
              n3 [label="merge", fillcolor="#ffe0b2", color="#ef6c00", tooltip="stale"];
              n0 -> n1;
              n0 -> n2;
              n1 -> n3;
              n2 -> n3;
            }

            """)
    }

    @Test func mermaidTextEscapesQuotesAndMarkup() {
        let model = GraphModel(nodes: [
            GraphNode(id: "n0", label: "say \"hi\" <b>", state: .fresh, members: ["x"], counts: [.fresh: 1]),
            GraphNode(id: "n1", label: "emb[×9]", state: .failed, members: Array(repeating: "e", count: 9), counts: [.failed: 1, .fresh: 8]),
        ], edges: [GraphEdge(from: 0, to: 1)])
        #expect(model.mermaid() == """
            flowchart TB
              n0["say #quot;hi#quot; #lt;b#gt;"]:::fresh
              n1["emb[×9]<br/>1 failed, 8 fresh"]:::failed
              n0 --> n1
              classDef fresh fill:#c8e6c9,stroke:#2e7d32,color:#212121
              classDef failed fill:#ffcdd2,stroke:#c62828,color:#212121

            """)
    }

    @Test func dotEscapesQuotesAndBackslashes() {
        let model = GraphModel(nodes: [GraphNode(id: "n0", label: "a\"b\\c", state: .stale, members: ["a"], counts: [.stale: 1])], edges: [])
        #expect(model.dot().contains(#"n0 [label="a\"b\\c""#))
    }

    /// `stats` fans out over the files `split` writes, which no result says yet; `report`
    /// gathers it, so it waits too, and reads `cfg`'s output besides.
    static let produced = """
        step cfg
          out data/cfg.txt
          run echo > {out}
        step split
          out data/by_class/
          run mkdir -p {out}
        step stats[f in data/by_class/*.npy]
          in  {f}
          out data/stats/{f.stem}.txt
          run cp {f} {out}
        step report
          in  stats[*]
          in  data/cfg.txt
          out report.txt
          run cat {in} > {out}
        """

    @Test func aStepThatExpandsLaterIsOnePlaceholderWithItsEdges() throws {
        let wf = try Self.workflow(Self.produced)
        #expect(wf.deferred.map(\.displayName) == ["stats[*]", "report"])
        let model = GraphModel(workflow: wf, states: ["cfg": .fresh, "split": .stale])
        #expect(model.nodes.map(\.label) == ["cfg", "split", "stats[*]", "report"])
        #expect(model.nodes.map(\.state) == [.fresh, .stale, .waits, .waits])
        #expect(model.nodes.map(\.note) == [nil, nil, "expands after split", "expands after split"])
        #expect(Set(model.edges) == [GraphEdge(from: 1, to: 2), GraphEdge(from: 2, to: 3), GraphEdge(from: 0, to: 3)])
        // Only what the targets need: split alone, or stats[*] with what it waits for.
        let alone = GraphModel(workflow: wf, states: [:], include: [wf.step(named: "split")!.id], waiting: [])
        #expect(alone.nodes.map(\.label) == ["split"])
        let stats = GraphModel(workflow: wf, states: [:], include: [wf.step(named: "split")!.id], waiting: ["stats"])
        #expect(stats.nodes.map(\.label) == ["split", "stats[*]"])
        #expect(stats.edges == [GraphEdge(from: 0, to: 1)])
    }

    @Test func placeholdersInDotMermaidAndSVG() throws {
        let model = GraphModel(workflow: try Self.workflow(Self.produced), states: ["cfg": .fresh, "split": .stale])
        let dot = model.dot()
        #expect(dot.contains(##"n2 [label="stats[*]\nexpands after split", fillcolor="#f5f5f5", color="#757575", tooltip="waits: expands after split", style="rounded,filled,dashed"];"##), "\(dot)")
        #expect(dot.contains("n1 -> n2;\n  n0 -> n3;\n  n2 -> n3;"), "\(dot)")
        let mermaid = model.mermaid()
        #expect(mermaid.contains("n2[\"stats[*]<br/>expands after split\"]:::waits"), "\(mermaid)")
        #expect(mermaid.contains("classDef waits fill:#f5f5f5,stroke:#757575,color:#212121,stroke-dasharray:5 3"), "\(mermaid)")
        let svg = model.svg()
        #expect(svg.contains("<title>stats[*]: expands after split</title>"), "\(svg)")
        #expect(svg.contains(">expands after split</text>"), "\(svg)")
        #expect(svg.contains(">waits</text>"), "the legend names the state: \(svg)")
    }

    @Test(arguments: [
        ("fresh", nil as String?, false, NodeState.fresh),
        ("stale", "failed", false, .failed),
        ("fresh", "failed", false, .fresh),       // fixed since: the failure is history
        ("restorable", "failed", false, .failed),
        ("stale", "running", true, .running),
        ("stale", "running", false, .stale),      // a dead run's "running" means nothing now
        ("restorable", "succeeded", false, .restorable),
        ("bogus", nil, false, .stale),
    ])
    func stateCombination(evaluation: String, lastRun: String?, live: Bool, expected: NodeState) {
        #expect(NodeState.combine(evaluation: evaluation, lastRun: lastRun.map { JournalState(journal: $0) }, runIsLive: live) == expected)
    }
}
