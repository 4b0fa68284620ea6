import Foundation
import FlowRuntime

/// Small SVG charts for the report: line charts, cluster-size bars, the run timeline.
/// Each returns one `<svg>` element; all text is escaped.
enum Chart {
    static let palette = ["#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#5d4037"]

    /// About `count` round values covering [lo, hi] (steps of 1, 2 or 5 × 10^n).
    static func niceTicks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        guard lo.isFinite, hi.isFinite else { return [] }
        if hi <= lo { return [lo] }
        let raw = (hi - lo) / Double(max(1, count))
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        // Multiples of the step, cleaned of binary noise (3 × 0.2 is 0.6000000000000001).
        let first = Int((lo / step - 1e-9).rounded(.up)), last = Int((hi / step + 1e-9).rounded(.down))
        guard first <= last else { return [] }
        return (first...last).map { Double(String(format: "%.12g", Double($0) * step)) ?? Double($0) * step }
    }

    /// A short axis label: 12, 0.35, 1.5k, 2M.
    static func label(_ v: Double) -> String {
        let a = abs(v)
        if a >= 1e6 { return trim(v / 1e6) + "M" }
        if a >= 1e4 { return trim(v / 1e3) + "k" }
        if a >= 100 || v == v.rounded() { return String(Int(v.rounded())) }
        if a >= 1 { return trim(v) }
        return String(format: "%.3g", v)
    }

    static func trim(_ v: Double) -> String {
        var s = String(format: "%.2f", v)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }

    /// A duration for the time axis and the table: 0.42s, 12s, 3m05s, 1h20m.
    static func duration(_ s: Double) -> String {
        if s < 10 { return String(format: "%.2fs", s) }
        if s < 120 { return String(format: "%.0fs", s) }
        if s < 7200 { return String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60) }
        return String(format: "%dh%02dm", Int(s) / 3600, (Int(s) % 3600) / 60)
    }

    static func bytes(_ n: Int64) -> String { ByteCount.text(n) }

    static func open(_ width: Double, _ height: Double, _ label: String) -> String {
        "<svg width=\"\(HTML.num(width))\" height=\"\(HTML.num(height))\" viewBox=\"0 0 \(HTML.num(width)) \(HTML.num(height))\" role=\"img\" aria-label=\"\(HTML.escape(label))\">\n"
    }

    static func text(_ x: Double, _ y: Double, _ s: String, anchor: String = "start", size: Int = 11, fill: String = "#37474f") -> String {
        "<text x=\"\(HTML.num(x))\" y=\"\(HTML.num(y))\" text-anchor=\"\(anchor)\" font-size=\"\(size)\" fill=\"\(fill)\">\(HTML.escape(s))</text>"
    }

    /// Series against a shared x axis (training step), with a legend.
    static func lineChart(_ series: [LossCurve.Series], xLabel: String, width: Double = 720, height: Double = 260) -> String {
        let all = series.flatMap(\.points)
        guard let xMin = all.map(\.x).min(), let xMax = all.map(\.x).max(),
              var yMin = all.map(\.y).min(), var yMax = all.map(\.y).max() else { return "" }
        if yMax == yMin { yMax += 1; yMin -= 1 }
        let pad = (yMax - yMin) * 0.05
        yMin -= pad
        yMax += pad
        let (l, r, t, b) = (56.0, 16.0, 24.0, 34.0)
        let pw = width - l - r, ph = height - t - b
        func px(_ x: Double) -> Double { l + (xMax == xMin ? pw / 2 : (x - xMin) / (xMax - xMin) * pw) }
        func py(_ y: Double) -> Double { t + (1 - (y - yMin) / (yMax - yMin)) * ph }
        var s = open(width, height, "line chart")
        s += "<rect x=\"\(HTML.num(l))\" y=\"\(HTML.num(t))\" width=\"\(HTML.num(pw))\" height=\"\(HTML.num(ph))\" fill=\"#fafafa\" stroke=\"#cfd8dc\"/>\n"
        for y in niceTicks(yMin, yMax) {
            s += "<line x1=\"\(HTML.num(l))\" x2=\"\(HTML.num(l + pw))\" y1=\"\(HTML.num(py(y)))\" y2=\"\(HTML.num(py(y)))\" stroke=\"#eceff1\"/>"
            s += text(l - 6, py(y) + 4, label(y), anchor: "end") + "\n"
        }
        for x in niceTicks(xMin, xMax, count: 6) {
            s += text(px(x), t + ph + 16, label(x), anchor: "middle") + "\n"
        }
        s += text(l + pw / 2, height - 4, xLabel, anchor: "middle")
        var legendX = l + 4
        for (i, serie) in series.enumerated() {
            let color = palette[i % palette.count]
            let points = serie.points.map { "\(HTML.num(px($0.x))),\(HTML.num(py($0.y)))" }.joined(separator: " ")
            s += "<polyline class=\"series\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(i == 0 ? 2 : 1.3)\" points=\"\(points)\"><title>\(HTML.escape(serie.name))</title></polyline>\n"
            s += "<rect x=\"\(HTML.num(legendX))\" y=\"8\" width=\"10\" height=\"3\" fill=\"\(color)\"/>" + text(legendX + 14, 13, serie.name)
            legendX += 24 + Double(serie.name.count) * 6.6
        }
        return s + "</svg>"
    }

    /// Cluster sizes, largest first, before (grey) and after (blue) sampling, one bar per cluster
    /// (or per rank bucket when there are more than `maxBars` clusters: the mean of the bucket).
    static func clusterBars(_ level: ClusterSizes.Level, width: Double = 720, height: Double = 200, maxBars: Int = 240) -> String {
        let n = level.before.count
        guard n > 0 else { return "" }
        let order = (0..<n).sorted { level.before[$0] != level.before[$1] ? level.before[$0] > level.before[$1] : $0 < $1 }
        let buckets = min(n, maxBars)
        var before = [Double](repeating: 0, count: buckets)
        var after = [Double](repeating: 0, count: buckets)
        var counts = [Double](repeating: 0, count: buckets)
        for (rank, c) in order.enumerated() {
            let bucket = rank * buckets / n
            before[bucket] += Double(level.before[c])
            after[bucket] += Double(c < level.after.count ? level.after[c] : 0)
            counts[bucket] += 1
        }
        for i in 0..<buckets where counts[i] > 0 { before[i] /= counts[i]; after[i] /= counts[i] }
        let yMax = max(1, before.max() ?? 1, after.max() ?? 1)
        let (l, r, t, b) = (56.0, 16.0, 22.0, 30.0)
        let pw = width - l - r, ph = height - t - b
        let bw = pw / Double(buckets)
        func py(_ y: Double) -> Double { t + (1 - y / yMax) * ph }
        var s = open(width, height, "cluster sizes, level \(level.level)")
        for y in niceTicks(0, yMax, count: 4) {
            s += "<line x1=\"\(HTML.num(l))\" x2=\"\(HTML.num(l + pw))\" y1=\"\(HTML.num(py(y)))\" y2=\"\(HTML.num(py(y)))\" stroke=\"#eceff1\"/>"
            s += text(l - 6, py(y) + 4, label(y), anchor: "end") + "\n"
        }
        for i in 0..<buckets {
            let x = l + Double(i) * bw
            let w = max(0.5, bw * 0.9)
            s += "<rect class=\"before\" x=\"\(HTML.num(x))\" y=\"\(HTML.num(py(before[i])))\" width=\"\(HTML.num(w))\" height=\"\(HTML.num(ph + t - py(before[i])))\" fill=\"#b0bec5\"/>"
            s += "<rect class=\"after\" x=\"\(HTML.num(x + w * 0.2))\" y=\"\(HTML.num(py(after[i])))\" width=\"\(HTML.num(w * 0.6))\" height=\"\(HTML.num(ph + t - py(after[i])))\" fill=\"#1565c0\"/>\n"
        }
        s += text(l + pw / 2, height - 6, buckets < n ? "clusters by size, largest first (\(n) in \(buckets) buckets)" : "clusters by size, largest first (\(n))", anchor: "middle")
        s += "<rect x=\"\(HTML.num(l + 4))\" y=\"6\" width=\"10\" height=\"10\" fill=\"#b0bec5\"/>" + text(l + 18, 15, "before")
        s += "<rect x=\"\(HTML.num(l + 70))\" y=\"6\" width=\"10\" height=\"10\" fill=\"#1565c0\"/>" + text(l + 84, 15, "after")
        return s + "</svg>"
    }
}
