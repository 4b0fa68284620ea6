import FlowCore

/// One box of the drawn DAG: a step, all instances of a large fan-out, or a step whose
/// instances are not known yet (`stats[*]`, "expands after split").
public struct GraphNode: Equatable, Sendable {
    /// A stable identifier for DOT and Mermaid: `n0`, `n1`, ... in workflow order.
    public var id: String
    /// The text shown: the step name, or `embed[×64]` for a group.
    public var label: String
    /// The step's state; for a group, its worst member's (see `NodeState.severity`).
    public var state: NodeState
    /// The instance names drawn by this node (one, except for groups).
    public var members: [String]
    /// For a group: how many members are in each state.
    public var counts: [NodeState: Int]
    /// A second line under the label: "expands after split" for a step that waits (`waits`).
    public var note: String? = nil

    public var isGroup: Bool { members.count > 1 }

    /// "3 fresh, 1 stale" for groups, the state name otherwise.
    public var stateSummary: String {
        guard isGroup else { return state.rawValue }
        return NodeState.allCases.reversed().compactMap { s in counts[s].map { "\($0) \(s.rawValue)" } }.joined(separator: ", ")
    }
}

/// A directed edge between two nodes, by index into `GraphModel.nodes`.
public struct GraphEdge: Hashable, Sendable {
    public var from: Int
    public var to: Int
    public init(from: Int, to: Int) { self.from = from; self.to = to }
}

/// The DAG as it is drawn: nodes in workflow order, deduplicated edges.
///
/// Fan-outs with more than `groupAbove` instances become one node each (`embed[×64]`), so a
/// workflow with thousands of shards stays readable; smaller fan-outs get one node per instance.
/// A step that expands only once another has run (`Workflow.deferred`) is one node after the
/// others, `stats[*]` in state `waits`, with the edges of what it reads.
public struct GraphModel: Sendable {
    public var nodes: [GraphNode]
    public var edges: [GraphEdge]

    public init(nodes: [GraphNode], edges: [GraphEdge]) {
        self.nodes = nodes
        self.edges = edges
    }

    /// The graph of `workflow` (only the steps in `include` and the deferred steps in `waiting`,
    /// by base name, when given), each step coloured by `states[step.name]` (stale when absent).
    public init(workflow: Workflow, states: [String: NodeState], groupAbove: Int = 8, include: StepSet? = nil,
                waiting: Set<String>? = nil) {
        var instances: [String: Int] = [:]
        for s in workflow.steps where include?.contains(s.id) ?? true { instances[s.baseName, default: 0] += 1 }
        var nodeOf: [StepID: Int] = [:]
        var groupNode: [String: Int] = [:]
        var nodes: [GraphNode] = []
        for id in workflow.order where include?.contains(id) ?? true {
            let step = workflow[id]
            let state = states[step.name] ?? .stale
            let grouped = (instances[step.baseName] ?? 1) > groupAbove
            if grouped, let n = groupNode[step.baseName] {
                nodes[n].members.append(step.name)
                nodes[n].counts[state, default: 0] += 1
                nodes[n].state = max(nodes[n].state, state)
                nodeOf[id] = n
                continue
            }
            let label = grouped ? "\(step.baseName)[×\(instances[step.baseName]!)]" : step.name
            nodes.append(GraphNode(id: "n\(nodes.count)", label: label, state: state, members: [step.name], counts: [state: 1]))
            nodeOf[id] = nodes.count - 1
            if grouped { groupNode[step.baseName] = nodes.count - 1 }
        }
        var seen = Set<GraphEdge>()
        var edges: [GraphEdge] = []
        for id in workflow.order {
            for d in workflow[id].dependencies {
                guard let a = nodeOf[d], let b = nodeOf[id], a != b else { continue }
                let e = GraphEdge(from: a, to: b)
                if seen.insert(e).inserted { edges.append(e) }
            }
        }
        // Steps that wait: one node each, then an edge from every node of each step they read.
        var waitingNode: [String: Int] = [:]
        let drawn = workflow.deferred.filter { waiting?.contains($0.baseName) ?? true }
        for d in drawn {
            var node = GraphNode(id: "n\(nodes.count)", label: d.displayName, state: .waits, members: [d.displayName], counts: [.waits: 1])
            node.note = "expands after \(d.after)"
            nodes.append(node)
            waitingNode[d.baseName] = nodes.count - 1
        }
        var nodesOfStep: [String: [Int]] = [:]
        for id in workflow.order { if let n = nodeOf[id] { nodesOfStep[workflow[id].baseName, default: []].append(n) } }
        for d in drawn {
            let b = waitingNode[d.baseName]!
            for name in d.reads {
                for a in waitingNode[name].map({ [$0] }) ?? nodesOfStep[name] ?? [] where a != b {
                    let e = GraphEdge(from: a, to: b)
                    if seen.insert(e).inserted { edges.append(e) }
                }
            }
        }
        self.nodes = nodes
        self.edges = edges
    }
}
