import Foundation

/// The report of the workspace's results (`flow report` without `--run`): each step instance's
/// result and the run that made it, so a daily run of cache hits does not hide the runs that
/// computed what the workspace holds.
extension RunReport {
    func resultsHeader(_ results: ResultsInfo) -> String {
        let instances = steps.filter { $0.expandsAfter == nil }
        let made = instances.filter { $0.now != "not produced" }.count
        var facts = ["results in the workspace: \(made) of \(instances.count) step instances"]
        // "stats[*] and report expand after split": their instances are not counted, not known yet.
        var waiting: [(after: String, names: [String])] = []
        for r in steps {
            guard let after = r.expandsAfter else { continue }
            if let i = waiting.firstIndex(where: { $0.after == after }) { waiting[i].names.append(r.name) } else { waiting.append((after, [r.name])) }
        }
        for w in waiting {
            let names = w.names.count == 1 ? w.names[0] : w.names.dropLast().joined(separator: ", ") + " and " + w.names.last!
            facts.append("\(names) expand\(w.names.count == 1 ? "s" : "") after \(w.after)")
        }
        if !results.runs.isEmpty {
            let ids = results.runs.map { "\($0.id)" }
            facts.append("made by run\(ids.count == 1 ? "" : "s") " + ids.joined(separator: ", "))
        }
        var s = "<p class=\"meta\">" + facts.map(HTML.escape).joined(separator: " · ") + "</p>"
        if let newest = results.newest {
            var last = ["newest run \(newest.id)", newest.status, "started \(RunReport.timestamp(newest.startedAt))"]
            if !newest.summary.isEmpty { last.append(newest.summary) }
            s += "<p class=\"meta\">" + last.map(HTML.escape).joined(separator: " · ") + " <span class=\"dim\">(flow report --run \(newest.id) describes it)</span></p>"
            // The workflow is shown with the newest run's variables (see ReportCommand).
            if !newest.variables.isEmpty { s += "<p class=\"meta\"><span class=\"vars\">\(HTML.escape(newest.variables))</span></p>" }
        } else {
            s += "<p class=\"meta\">No run recorded yet: the graph shows what would run.</p>"
        }
        return s
    }

    /// One timeline per run that made results, newest first, each with the steps it made.
    func resultsTimelines(_ results: ResultsInfo) -> String {
        var html = ""
        for run in results.runs {
            let rows = steps.filter { $0.run == run.id && $0.started != nil }.sorted { ($0.started ?? .distantPast) < ($1.started ?? .distantPast) }
            guard !rows.isEmpty else { continue }
            let end = max(rows.compactMap(\.ended).max() ?? run.startedAt, run.startedAt)
            html += "<h3>run \(run.id), started \(HTML.escape(RunReport.timestamp(run.startedAt))): \(rows.count) result\(rows.count == 1 ? "" : "s") <code>\(HTML.escape(run.command))</code></h3>\n"
            let shown = Array(rows.prefix(RunReport.maxTimelineRows))
            html += "<div class=\"scroll\">" + Chart.timeline(shown, start: run.startedAt, end: end) + "</div>\n"
        }
        return html
    }

    /// A row per step instance: its state now, the run that made its result, when, how long it
    /// took, what it used, and its log.
    func resultsTable() -> String {
        var s = "<table class=\"steps\"><thead><tr><th>step</th><th>now</th><th>made by</th><th>finished</th><th>duration</th><th>peak memory</th><th>output size</th><th>log</th></tr></thead><tbody>\n"
        for r in steps {
            let now = r.now ?? ""
            let madeBy = r.run.map { "run \($0)" } ?? (r.ended == nil ? "" : "outside this workspace's runs")
            var log = HTML.escape(r.log)
            if let tail = r.logTail, !tail.isEmpty {
                log = "<details><summary>\(log.isEmpty ? "log" : log)</summary><pre>\(HTML.escape(tail))</pre></details>"
            }
            let cells = [
                "<td class=\"name\">\(HTML.escape(r.name))</td>",
                "<td><span class=\"state \(HTML.escape(now.replacingOccurrences(of: " ", with: "-")))\">\(HTML.escape(now))</span>"
                    + (r.expandsAfter.map { " expands after " + HTML.escape($0) } ?? "") + "</td>",
                "<td>\(HTML.escape(madeBy))</td>",
                "<td class=\"num\">\(r.ended.map { HTML.escape(RunReport.timestamp($0)) } ?? "")</td>",
                "<td class=\"num\">\(r.duration.map(Chart.duration) ?? "")</td>",
                "<td class=\"num\">\(r.peakMemory.map(Chart.bytes) ?? "")</td>",
                "<td class=\"num\">\(r.outputSize.map(Chart.bytes) ?? "")</td>",
                "<td>\(log)</td>",
            ]
            s += "<tr>" + cells.joined() + "</tr>\n"
        }
        return s + "</tbody></table>"
    }

    /// The metrics table, then the sweep plots grouped by step.
    func metricsHTML(_ metrics: MetricsSection) -> String {
        var s = "<div class=\"scroll\"><table class=\"metrics\"><thead><tr>"
        s += metrics.table[0].map { "<th>\(HTML.escape($0))</th>" }.joined() + "</tr></thead><tbody>\n"
        for row in metrics.table.dropFirst() {
            s += "<tr>" + row.enumerated().map { c, cell in
                c == 0 ? "<td class=\"name\">\(HTML.escape(cell))</td>" : "<td class=\"num\">\(HTML.escape(cell))</td>"
            }.joined() + "</tr>\n"
        }
        s += "</tbody></table></div>\n"
        var step = ""
        for plot in metrics.plots {
            if plot.step != step {
                if !step.isEmpty { s += "</div>\n" }
                step = plot.step
                s += "<h3>\(HTML.escape(step)): each metric against \(HTML.escape(plot.variable))</h3><div class=\"plots\">\n"
            }
            s += "<figure class=\"sweep\">" + Chart.sweep(plot) + "<figcaption>\(HTML.escape(plot.metric)) against \(HTML.escape(plot.variable))</figcaption></figure>\n"
        }
        if !step.isEmpty { s += "</div>\n" }
        return s
    }
}
