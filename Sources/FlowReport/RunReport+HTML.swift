import Foundation

/// The report as one self-contained HTML file: inline CSS and SVG, a few lines of inline script
/// (an error trap and a marker the browser check reads), no network, fonts or images.
extension RunReport {
    public func html() -> String {
        var body = header()
        var nav: [(String, String)] = [("graph", "Graph")]
        body += section("graph", "Graph", "<div class=\"scroll\">" + graph.svg() + "</div>")
        if let run, !steps.isEmpty {
            let end = steps.compactMap(\.ended).max().map { max($0, run.endedAt ?? $0) } ?? run.endedAt ?? generated
            let live = steps.contains { $0.state == "running" } ? generated : end
            var rows = steps
            var note = ""
            if rows.count > RunReport.maxTimelineRows {
                rows = rows.filter { $0.started != nil }
                note = "<p class=\"note\">\(steps.count - rows.count) cached, restored or skipped steps are not drawn.</p>"
            }
            body += section("timeline", "Timeline", note + "<div class=\"scroll\">" + Chart.timeline(Array(rows.prefix(RunReport.maxTimelineRows)), start: run.startedAt, end: max(live, run.startedAt)) + "</div>")
            body += section("steps", "Steps", stepTable(start: run.startedAt))
            nav += [("timeline", "Timeline"), ("steps", "Steps")]
        }
        // Before anything was made (no run yet) the graph alone says what would run, unless
        // some steps wait for others: the table says so in words.
        if run == nil, let results, steps.contains(where: { $0.now != "not produced" }) {
            if !results.runs.isEmpty {
                body += section("timeline", "Timeline of the runs that made the results", resultsTimelines(results))
                nav.append(("timeline", "Timeline"))
            }
            body += section("steps", "Results in the workspace", resultsTable())
            nav.append(("steps", "Steps"))
        }
        if let metrics, metrics.table.count > 1 {
            body += section("metrics", "Metrics", metricsHTML(metrics))
            nav.append(("metrics", "Metrics"))
        }
        if !lossCurves.isEmpty {
            var html = ""
            for c in lossCurves {
                html += "<figure>" + Chart.lineChart(c.series, xLabel: "step") + "<figcaption>\(HTML.escape(c.step)): \(HTML.escape(c.path))\(lastValues(c))</figcaption></figure>\n"
            }
            body += section("loss", "Training loss", html)
            nav.append(("loss", "Loss"))
        }
        if !clusterSizes.isEmpty {
            var html = ""
            for c in clusterSizes {
                for level in c.levels.reversed() {
                    let before = level.before.reduce(0, +), after = level.after.reduce(0, +)
                    html += "<figure>" + Chart.clusterBars(level)
                    html += "<figcaption>\(HTML.escape(c.step)), level \(level.level): \(level.before.count) clusters, \(before) points → \(after); largest cluster \(level.before.max() ?? 0) → \(level.after.max() ?? 0) (\(HTML.escape(c.path)))</figcaption></figure>\n"
                }
            }
            body += section("clusters", "Cluster sizes before and after balanced sampling", html)
            nav.append(("clusters", "Clusters"))
        }
        if !accuracy.isEmpty {
            body += section("accuracy", "Accuracy", accuracyTable())
            nav.append(("accuracy", "Accuracy"))
        }
        let links = nav.map { "<a href=\"#\($0.0)\">\($0.1)</a>" }.joined(separator: " ")
        let title = HTML.escape("flow report: \(workflowFile)" + (run.map { ", run \($0.id)" } ?? (results == nil ? "" : ", results in the workspace")))
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="generator" content="flow report">
            <title>\(title)</title>
            <style>\(RunReport.css)</style>
            <script>window.flowErrors = []; window.addEventListener("error", function (e) { window.flowErrors.push(String(e.message)); });</script>
            </head>
            <body>
            <nav>\(links)</nav>
            \(body)
            <footer>Made by flow report on \(HTML.escape(RunReport.timestamp(generated))). Self-contained: no network, no external files.</footer>
            <script>document.body.setAttribute("data-sections", Array.prototype.map.call(document.querySelectorAll("section"), function (s) { return s.id; }).join(" "));
            document.body.setAttribute("data-height", String(document.documentElement.scrollHeight));
            document.body.setAttribute("data-report", window.flowErrors.length ? "errors: " + window.flowErrors.join("; ") : "ok");</script>
            </body>
            </html>

            """
    }

    /// The ids of the sections of a rendered report, in order (what `flow report` says it wrote).
    public static func sectionIDs(in html: String) -> [String] {
        html.components(separatedBy: "<section id=\"").dropFirst().compactMap { $0.split(separator: "\"", maxSplits: 1).first.map(String.init) }
    }

    /// Above this many steps the timeline draws only those that ran.
    static let maxTimelineRows = 400

    static func timestamp(_ d: Date) -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return f.string(from: d)
    }

    func section(_ id: String, _ title: String, _ content: String) -> String {
        "<section id=\"\(id)\"><h2>\(HTML.escape(title))</h2>\n\(content)\n</section>\n"
    }

    func header() -> String {
        var s = "<header><h1>\(HTML.escape(workflowFile))</h1>"
        if run == nil, let results { return s + resultsHeader(results) + "</header>\n" }
        guard let run else { return s + "<p class=\"meta\">No run recorded yet: the graph shows what would run.</p></header>\n" }
        var facts = ["run \(run.id)", run.status, "started \(RunReport.timestamp(run.startedAt))"]
        if let end = run.endedAt { facts.append(Chart.duration(end.timeIntervalSince(run.startedAt))) }
        if !run.summary.isEmpty { facts.append(run.summary) }
        s += "<p class=\"meta status-\(HTML.escape(run.status))\">" + facts.map(HTML.escape).joined(separator: " · ") + "</p>"
        s += "<p class=\"meta\"><code>\(HTML.escape(run.command))</code>"
        if !run.variables.isEmpty { s += " <span class=\"vars\">\(HTML.escape(run.variables))</span>" }
        return s + "</p></header>\n"
    }

    func stepTable(start: Date) -> String {
        var s = "<table class=\"steps\"><thead><tr><th>step</th><th>state</th><th>start</th><th>duration</th><th>cache hit</th><th>peak memory</th><th>output size</th><th>attempts</th><th>note</th></tr></thead><tbody>\n"
        for r in steps {
            let startText = r.started.map { "+" + Chart.duration(max(0, $0.timeIntervalSince(start))) } ?? ""
            let cells = [
                "<td class=\"name\">\(HTML.escape(r.name))</td>",
                "<td><span class=\"state \(HTML.escape(r.state))\">\(HTML.escape(r.state))</span>\(r.exitStatus.map { $0 != 0 ? " (exit \($0))" : "" } ?? "")</td>",
                "<td class=\"num\">\(startText)</td>",
                "<td class=\"num\">\(r.duration.map(Chart.duration) ?? "")</td>",
                "<td>\(r.cacheHit ? "yes" : "")</td>",
                "<td class=\"num\">\(r.peakMemory.map(Chart.bytes) ?? "")</td>",
                "<td class=\"num\">\(r.outputSize.map(Chart.bytes) ?? "")</td>",
                "<td class=\"num\">\(r.attempt)</td>",
                "<td>\(HTML.escape(r.note))</td>",
            ]
            s += "<tr>" + cells.joined() + "</tr>\n"
        }
        return s + "</tbody></table>"
    }

    func accuracyTable() -> String {
        func pct(_ v: Double?) -> String { v.map { String(format: "%.1f%%", $0 * 100) } ?? "–" }
        var s = "<table class=\"accuracy\"><thead><tr><th>model</th><th>k-NN top-1</th><th>linear top-1</th><th>from</th></tr></thead><tbody>\n"
        for r in accuracy {
            let k = r.knnK.map { " <span class=\"dim\">(k=\($0))</span>" } ?? ""
            s += "<tr><td class=\"name\">\(HTML.escape(r.model))</td><td class=\"num\">\(pct(r.knnTop1))\(r.knnTop1 == nil ? "" : k)</td><td class=\"num\">\(pct(r.linearTop1))</td><td class=\"dim\">\(HTML.escape(r.detail))</td></tr>\n"
        }
        return s + "</tbody></table>"
    }

    func lastValues(_ c: LossCurve) -> String {
        let parts = c.series.compactMap { s in s.points.last.map { "\(s.name) \(Chart.label($0.y))" } }
        guard let last = c.series.first?.points.last else { return "" }
        return HTML.escape("; at step \(Chart.label(last.x)): " + parts.joined(separator: ", "))
    }

    static let css = """
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#263238;margin:0 auto;max-width:1100px;padding:0 20px 40px}
        nav{position:sticky;top:0;background:#fff;padding:8px 0;border-bottom:1px solid #eceff1;z-index:1}
        nav a{margin-right:14px;color:#1565c0;text-decoration:none}
        h1{font-size:22px;margin:18px 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #eceff1;padding-bottom:4px}
        .meta{margin:2px 0;color:#546e7a}.meta code{background:#f5f7f8;padding:1px 4px;border-radius:3px}
        .status-failed{color:#c62828}.status-interrupted{color:#ef6c00}
        .scroll{overflow-x:auto}svg{font-family:inherit;display:block}
        table{border-collapse:collapse;font-size:13px}th,td{padding:3px 10px;border-bottom:1px solid #eceff1;text-align:left;vertical-align:top}
        th{background:#f5f7f8;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}td.name{font-family:ui-monospace,"DejaVu Sans Mono",monospace}
        .state{padding:0 6px;border-radius:8px;background:#eceff1}.state.succeeded{background:#c8e6c9}.state.failed{background:#ffcdd2}
        .state.cached,.state.restored,.state.restorable{background:#bbdefb}.state.fresh{background:#c8e6c9}.state.stale{background:#ffe0b2}
        table.metrics td.name{white-space:nowrap}.state.interrupted{background:#ffe0b2}.state.running{background:#e1bee7}
        .state.waits{background:#f5f5f5;border:1px dashed #757575}
        details pre{max-width:640px;max-height:240px;overflow:auto;background:#f5f7f8;padding:6px;font-size:11px;white-space:pre-wrap}
        .plots{display:flex;flex-wrap:wrap;gap:8px 20px}h3{font-size:14px;margin:16px 0 4px;color:#455a64}
        .dim{color:#78909c}.note{color:#78909c;font-size:12px}figure{margin:10px 0 18px}figcaption{color:#546e7a;font-size:12px}
        footer{margin-top:36px;color:#90a4ae;font-size:12px}
        """
}
