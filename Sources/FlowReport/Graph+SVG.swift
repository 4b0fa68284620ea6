/// The graph as inline SVG: boxes coloured by state, edges as curves with arrowheads, a legend.
extension GraphModel {
    /// Pixels per character of the 12 px sans-serif labels (an average; labels are clipped with "…").
    static let charWidth = 6.6

    /// - Parameter standalone: add the SVG namespace (for a `.svg` file; HTML5 needs none, and
    ///   the report then holds no URL at all).
    public func svg(maxLabel: Int = 32, standalone: Bool = false) -> String {
        // A note is set in 10 px type under the 12 px label.
        let longest = nodes.map { min(max($0.label.count, ($0.note?.count ?? 0) * 5 / 6), maxLabel) }.max() ?? 4
        let nodeWidth = max(70, Double(longest) * GraphModel.charWidth + 20)
        let nodeHeight: Double = nodes.contains(where: { $0.isGroup || $0.note != nil }) ? 38 : 28
        let layout = LayeredLayout(nodeCount: nodes.count, edges: edges, nodeWidth: nodeWidth, nodeHeight: nodeHeight)
        let legendHeight: Double = 26
        let width = max(layout.width, 560)
        let height = layout.height + legendHeight
        let dx = (width - layout.width) / 2
        var s = "<svg\(standalone ? " xmlns=\"http://www.w3.org/2000/svg\"" : "") class=\"dag\" width=\"\(HTML.num(width))\" height=\"\(HTML.num(height))\" viewBox=\"0 0 \(HTML.num(width)) \(HTML.num(height))\" role=\"img\" aria-label=\"workflow graph\">\n"
        s += "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#607d8b\"/></marker></defs>\n"
        for path in layout.edgePaths {
            s += "<path d=\"\(GraphModel.curve(path, dx: dx))\" fill=\"none\" stroke=\"#607d8b\" stroke-width=\"1.2\" marker-end=\"url(#arrow)\"/>\n"
        }
        for (i, n) in nodes.enumerated() {
            let c = layout.centers[i]
            let x = c.x + dx - nodeWidth / 2
            let y = c.y - nodeHeight / 2
            let shown = n.label.count > maxLabel ? String(n.label.prefix(maxLabel - 1)) + "…" : n.label
            let second = n.note ?? (n.isGroup ? n.stateSummary : nil)
            s += "<g class=\"node \(n.state.rawValue)\"><title>\(HTML.escape("\(n.label): \(second ?? n.state.rawValue)"))</title>"
            let dashes = n.note != nil ? " stroke-dasharray=\"5 3\"" : n.isGroup ? " stroke-dasharray=\"5 2\"" : ""
            s += "<rect x=\"\(HTML.num(x))\" y=\"\(HTML.num(y))\" width=\"\(HTML.num(nodeWidth))\" height=\"\(HTML.num(nodeHeight))\" rx=\"6\" fill=\"\(n.state.fill)\" stroke=\"\(n.state.stroke)\" stroke-width=\"1.5\"\(dashes)/>"
            if let second {
                s += "<text x=\"\(HTML.num(c.x + dx))\" y=\"\(HTML.num(c.y - 3))\" text-anchor=\"middle\" font-size=\"12\">\(HTML.escape(shown))</text>"
                s += "<text x=\"\(HTML.num(c.x + dx))\" y=\"\(HTML.num(c.y + 12))\" text-anchor=\"middle\" font-size=\"10\" fill=\"#455a64\">\(HTML.escape(second))</text>"
            } else {
                s += "<text x=\"\(HTML.num(c.x + dx))\" y=\"\(HTML.num(c.y + 4))\" text-anchor=\"middle\" font-size=\"12\">\(HTML.escape(shown))</text>"
            }
            s += "</g>\n"
        }
        // Legend: the states present.
        var lx: Double = 12
        let ly = layout.height + 6
        for state in NodeState.allCases where nodes.contains(where: { $0.state == state || $0.counts[state] != nil }) {
            s += "<rect x=\"\(HTML.num(lx))\" y=\"\(HTML.num(ly))\" width=\"12\" height=\"12\" rx=\"3\" fill=\"\(state.fill)\" stroke=\"\(state.stroke)\"\(state == .waits ? " stroke-dasharray=\"3 2\"" : "")/>"
            s += "<text x=\"\(HTML.num(lx + 16))\" y=\"\(HTML.num(ly + 10))\" font-size=\"11\">\(state.rawValue)</text>\n"
            lx += 16 + Double(state.rawValue.count) * GraphModel.charWidth + 16
        }
        s += "</svg>"
        return s
    }

    /// An SVG path through `points`: vertical cubic segments between successive points.
    static func curve(_ points: [LayeredLayout.Point], dx: Double) -> String {
        guard let first = points.first else { return "" }
        var d = "M\(HTML.num(first.x + dx)),\(HTML.num(first.y))"
        for (a, b) in zip(points, points.dropFirst()) {
            let my = (a.y + b.y) / 2
            d += " C\(HTML.num(a.x + dx)),\(HTML.num(my)) \(HTML.num(b.x + dx)),\(HTML.num(my)) \(HTML.num(b.x + dx)),\(HTML.num(b.y))"
        }
        return d
    }
}
