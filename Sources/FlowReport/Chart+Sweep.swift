import Foundation

extension Chart {
    /// One metric against a swept variable: each series as points joined by a line, the x axis
    /// in log scale when `plot.logScale`, both axes labelled, a legend when there are several
    /// series. Each point's title gives its values.
    static func sweep(_ plot: MetricsSection.Plot, width: Double = 520, height: Double = 240) -> String {
        let all = plot.series.flatMap(\.points)
        guard let xMin = all.map(\.x).min(), let xMax = all.map(\.x).max(),
              var yMin = all.map(\.y).min(), var yMax = all.map(\.y).max() else { return "" }
        if yMax == yMin { yMax += abs(yMax) * 0.1 + 1e-9; yMin -= abs(yMin) * 0.1 + 1e-9 }
        let pad = (yMax - yMin) * 0.08
        yMin -= pad
        yMax += pad
        // On a log axis positions are those of log10(x); ticks are the powers of ten in range.
        let tx: (Double) -> Double = plot.logScale ? { log10($0) } : { $0 }
        let (lo, hi) = (tx(xMin), tx(xMax))
        let (l, r, t, b) = (64.0, 16.0, plot.series.count > 1 ? 26.0 : 12.0, 40.0)
        let pw = width - l - r, ph = height - t - b
        func px(_ x: Double) -> Double { l + (hi == lo ? pw / 2 : (tx(x) - lo) / (hi - lo) * pw * 0.92 + pw * 0.04) }
        func py(_ y: Double) -> Double { t + (1 - (y - yMin) / (yMax - yMin)) * ph }
        var s = open(width, height, "\(plot.metric) against \(plot.variable)")
        s += "<rect x=\"\(HTML.num(l))\" y=\"\(HTML.num(t))\" width=\"\(HTML.num(pw))\" height=\"\(HTML.num(ph))\" fill=\"#fafafa\" stroke=\"#cfd8dc\"/>\n"
        for y in niceTicks(yMin, yMax, count: 4) {
            s += "<line x1=\"\(HTML.num(l))\" x2=\"\(HTML.num(l + pw))\" y1=\"\(HTML.num(py(y)))\" y2=\"\(HTML.num(py(y)))\" stroke=\"#eceff1\"/>"
            s += text(l - 6, py(y) + 4, label(y), anchor: "end") + "\n"
        }
        let xTicks = plot.logScale
            ? (Int(lo.rounded(.up))...max(Int(lo.rounded(.up)), Int(hi.rounded(.down)))).map { pow(10, Double($0)) }
            : niceTicks(xMin, xMax, count: 5)
        for x in xTicks where tx(x) >= lo - 1e-9 && tx(x) <= hi + 1e-9 {
            s += "<line x1=\"\(HTML.num(px(x)))\" x2=\"\(HTML.num(px(x)))\" y1=\"\(HTML.num(t + ph))\" y2=\"\(HTML.num(t + ph + 4))\" stroke=\"#90a4ae\"/>"
            s += text(px(x), t + ph + 16, label(x), anchor: "middle") + "\n"
        }
        s += text(l + pw / 2, height - 6, plot.variable + (plot.logScale ? " (log scale)" : ""), anchor: "middle")
        s += "<text x=\"14\" y=\"\(HTML.num(t + ph / 2))\" text-anchor=\"middle\" font-size=\"11\" fill=\"#37474f\" transform=\"rotate(-90 14 \(HTML.num(t + ph / 2)))\">\(HTML.escape(plot.metric))</text>\n"
        var legendX = l + 4
        for (i, serie) in plot.series.enumerated() {
            let color = palette[i % palette.count]
            let points = serie.points.map { "\(HTML.num(px($0.x))),\(HTML.num(py($0.y)))" }.joined(separator: " ")
            s += "<polyline class=\"series\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(points)\"/>\n"
            for p in serie.points {
                let tip = "\(plot.variable)=\(label(p.x)) \(plot.metric)=\(String(format: "%g", p.y))" + (plot.series.count > 1 ? " (\(serie.name))" : "")
                s += "<circle class=\"point\" cx=\"\(HTML.num(px(p.x)))\" cy=\"\(HTML.num(py(p.y)))\" r=\"3.5\" fill=\"\(color)\"><title>\(HTML.escape(tip))</title></circle>"
            }
            s += "\n"
            if plot.series.count > 1 {
                s += "<rect x=\"\(HTML.num(legendX))\" y=\"8\" width=\"10\" height=\"3\" fill=\"\(color)\"/>" + text(legendX + 14, 13, serie.name)
                legendX += 24 + Double(serie.name.count) * 6.6
            }
        }
        return s + "</svg>"
    }
}
