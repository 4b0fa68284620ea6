/// The graph as text for other tools: Graphviz DOT and Mermaid.
extension GraphModel {
    /// Graphviz DOT (`dot -Tsvg`), top to bottom, each node filled with its state's colour.
    public func dot() -> String {
        func quoted(_ s: String) -> String {
            "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n") + "\""
        }
        var lines = [
            "digraph flow {",
            "  rankdir=TB;",
            "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=11];",
            "  edge [color=\"#607d8b\"];",
        ]
        for n in nodes {
            if let note = n.note {
                // A step that waits: dashed, its note on a second line.
                lines.append("  \(n.id) [label=\(quoted(n.label + "\n" + note)), fillcolor=\(quoted(n.state.fill)), color=\(quoted(n.state.stroke)), tooltip=\(quoted(n.stateSummary + ": " + note)), style=\"rounded,filled,dashed\"];")
                continue
            }
            let label = n.isGroup ? n.label + "\n" + n.stateSummary : n.label
            lines.append("  \(n.id) [label=\(quoted(label)), fillcolor=\(quoted(n.state.fill)), color=\(quoted(n.state.stroke)), tooltip=\(quoted(n.stateSummary))];")
        }
        for e in edges { lines.append("  \(nodes[e.from].id) -> \(nodes[e.to].id);") }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// A Mermaid flowchart (renders in GitHub Markdown), one class per state.
    public func mermaid() -> String {
        func escaped(_ s: String) -> String {
            // Mermaid entity codes: a quoted label may hold anything but a double quote and markup.
            s.replacingOccurrences(of: "\"", with: "#quot;").replacingOccurrences(of: "<", with: "#lt;")
                .replacingOccurrences(of: ">", with: "#gt;")
        }
        var lines = ["flowchart TB"]
        for n in nodes {
            let second = n.note.map(escaped) ?? (n.isGroup ? n.stateSummary : nil)
            let text = escaped(n.label) + (second.map { "<br/>" + $0 } ?? "")
            lines.append("  \(n.id)[\"\(text)\"]:::\(n.state.rawValue)")
        }
        for e in edges { lines.append("  \(nodes[e.from].id) --> \(nodes[e.to].id)") }
        for s in NodeState.allCases where nodes.contains(where: { $0.state == s }) {
            lines.append("  classDef \(s.rawValue) fill:\(s.fill),stroke:\(s.stroke),color:#212121\(s == .waits ? ",stroke-dasharray:5 3" : "")")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
