import Foundation

extension Chart {
    /// Colours of a step's bar by journal state.
    static func timelineColor(_ state: String) -> String {
        switch state {
        case "succeeded": return "#66bb6a"
        case "failed": return "#e53935"
        case "interrupted": return "#fb8c00"
        case "running": return "#ab47bc"
        case "cached": return "#26a69a"
        case "restored": return "#42a5f5"
        default: return "#b0bec5"
        }
    }

    /// One row per step: a bar from start to end for steps that ran (red when failed, orange when
    /// interrupted, purple while running), a diamond at the moment cached or restored steps were
    /// settled, nothing for skipped steps. Time runs from `start` to `end`.
    static func timeline(_ steps: [StepRow], start: Date, end: Date, width: Double = 900) -> String {
        let rowHeight = 18.0
        let labelWidth = 200.0
        let (t, b, r) = (8.0, 30.0, 16.0)
        let span = max(end.timeIntervalSince(start), 0.001)
        let pw = width - labelWidth - r
        let height = t + Double(steps.count) * rowHeight + b
        func px(_ d: Date) -> Double { labelWidth + max(0, min(1, d.timeIntervalSince(start) / span)) * pw }
        var s = open(width, height, "timeline")
        let axisY = t + Double(steps.count) * rowHeight
        for v in niceTicks(0, span, count: 6) {
            let x = labelWidth + v / span * pw
            s += "<line x1=\"\(HTML.num(x))\" x2=\"\(HTML.num(x))\" y1=\"\(HTML.num(t))\" y2=\"\(HTML.num(axisY))\" stroke=\"#eceff1\"/>"
            s += text(x, axisY + 14, duration(v), anchor: "middle") + "\n"
        }
        for (i, step) in steps.enumerated() {
            let y = t + Double(i) * rowHeight
            let name = step.name.count > 30 ? String(step.name.prefix(29)) + "…" : step.name
            s += "<g class=\"row \(HTML.escape(step.state))\"><title>\(HTML.escape(tooltip(step)))</title>"
            if i % 2 == 1 {
                s += "<rect x=\"0\" y=\"\(HTML.num(y))\" width=\"\(HTML.num(width))\" height=\"\(HTML.num(rowHeight))\" fill=\"#f7f9fa\"/>"
            }
            s += text(labelWidth - 8, y + 13, name, anchor: "end")
            let color = timelineColor(step.state)
            if let started = step.started {
                let x0 = px(started)
                let x1 = max(x0 + 2, px(step.ended ?? end))
                s += "<rect class=\"bar\" x=\"\(HTML.num(x0))\" y=\"\(HTML.num(y + 3))\" width=\"\(HTML.num(x1 - x0))\" height=\"\(HTML.num(rowHeight - 6))\" rx=\"2\" fill=\"\(color)\"/>"
                if step.state == "failed" || step.state == "interrupted" {
                    s += text(x1 + 4, y + 13, step.state, fill: color)
                }
            } else if step.cacheHit, let ended = step.ended {
                let x = px(ended), cy = y + rowHeight / 2
                s += "<path class=\"hit\" d=\"M\(HTML.num(x)),\(HTML.num(cy - 5)) l5,5 l-5,5 l-5,-5 z\" fill=\"\(color)\"/>"
                s += text(x + 8, y + 13, step.state, fill: "#546e7a")
            } else {
                s += text(labelWidth + 4, y + 13, step.state, fill: "#90a4ae")
            }
            s += "</g>\n"
        }
        return s + "</svg>"
    }

    static func tooltip(_ step: StepRow) -> String {
        var parts = [step.name, step.state]
        if let d = step.duration { parts.append(duration(d)) }
        if step.attempt > 1 { parts.append("attempt \(step.attempt)") }
        if !step.note.isEmpty { parts.append(step.note) }
        return parts.joined(separator: " · ")
    }
}
