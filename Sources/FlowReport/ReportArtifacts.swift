import FlowCore
import Foundation

/// Finds the report's data among the workflow's declared outputs (never by scanning the disk):
/// for each step, its output files, and the files inside its output directories (two levels deep).
///
/// - a `.jsonl` whose lines hold numeric `step` and `loss` → a loss curve;
/// - a `.json` with `levels[].sizes_before/sizes_after` (`sample-clusters --report`) → cluster sizes;
/// - a `.json` with `"eval": "knn"` or `"eval": "linear"` → a row of the accuracy table (unless
///   it is a sweep's `metrics` file: those are plotted in the metrics section).
///
/// Unreadable or malformed files are skipped: a report shows what it can.
public enum ReportArtifacts {
    /// Files larger than this are not read (a loss log of a long run is far smaller).
    static let maxBytes = 64 << 20

    public static func collect(workflow: Workflow, root: String, into report: inout RunReport) {
        var knn: [(key: String, label: String, detail: String, top1: Double, k: Int)] = []
        var linear: [(key: String, label: String, detail: String, top1: Double)] = []
        for id in workflow.order {
            let step = workflow[id]
            for file in files(of: step, root: root) {
                let abs = root + "/" + file
                if file.hasSuffix(".jsonl") {
                    if let curve = lossCurve(path: abs) { report.lossCurves.append(LossCurve(step: step.name, path: file, series: curve)) }
                } else if file.hasSuffix(".json"), let object = jsonObject(abs) {
                    if let levels = clusterLevels(object) {
                        report.clusterSizes.append(ClusterSizes(step: step.name, path: file, levels: levels))
                    }
                    // A sweep's metrics files are compared in the metrics section; merged into one
                    // accuracy row per model they would overwrite each other.
                    if !step.parameters.isEmpty && step.metrics.contains(file) { continue }
                    let (key, label, detail) = modelKey(object, step: step)
                    if object["eval"] as? String == "knn", let (top1, k) = bestKNN(object) {
                        knn.append((key, label, detail, top1, k))
                    } else if object["eval"] as? String == "linear", let top1 = number(object["val_top1"]) {
                        linear.append((key, label, detail, top1))
                    }
                }
            }
        }
        var rows: [AccuracyRow] = []
        var rowOf: [String: Int] = [:]
        func row(_ key: String, _ label: String, _ detail: String) -> Int {
            if let i = rowOf[key] { return i }
            rows.append(AccuracyRow(model: label, detail: detail))
            rowOf[key] = rows.count - 1
            return rows.count - 1
        }
        for r in knn {
            let i = row(r.key, r.label, r.detail)
            rows[i].knnTop1 = r.top1
            rows[i].knnK = r.k
        }
        for r in linear { rows[row(r.key, r.label, r.detail)].linearTop1 = r.top1 }
        report.accuracy = rows
    }

    /// The step's output files, and files up to two levels inside its output directories, sorted.
    static func files(of step: Step, root: String) -> [String] {
        var result: [String] = []
        let fm = FileManager.default
        for out in step.outputs {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: root + "/" + out.path, isDirectory: &isDir) else { continue }
            if !isDir.boolValue {
                result.append(out.path)
                continue
            }
            var stack = [(out.path, 0)]
            while let (dir, depth) = stack.popLast() {
                for name in ((try? fm.contentsOfDirectory(atPath: root + "/" + dir)) ?? []).sorted() {
                    let rel = dir + "/" + name
                    var sub: ObjCBool = false
                    guard fm.fileExists(atPath: root + "/" + rel, isDirectory: &sub) else { continue }
                    if sub.boolValue { if depth < 1 { stack.append((rel, depth + 1)) } } else if name.hasSuffix(".json") || name.hasSuffix(".jsonl") {
                        result.append(rel)
                    }
                }
            }
        }
        return result
    }

    static func read(_ path: String) -> Data? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let size = attributes[.size] as? Int, size <= maxBytes else { return nil }
        return FileManager.default.contents(atPath: path)
    }

    static func jsonObject(_ path: String) -> [String: Any]? {
        guard let data = read(path) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    static func number(_ value: Any?) -> Double? {
        guard let n = value as? NSNumber else { return nil }
        let d = n.doubleValue
        return d.isFinite ? d : nil
    }

    /// The series worth plotting from a training log: `loss`, then the DINOv2 terms.
    static let seriesKeys = ["loss", "dino", "ibot", "koleo", "dino_loss", "ibot_loss", "koleo_loss"]
    /// At most this many points per series are kept (evenly strided, the last one always).
    static let maxPoints = 1500

    /// The loss curve of a JSON-lines training log, or nil when its lines lack `step` and `loss`.
    public static func lossCurve(path: String) -> [LossCurve.Series]? {
        guard let data = read(path) else { return nil }
        var points: [String: [(x: Double, y: Double)]] = [:]
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            guard let o = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any],
                  let x = number(o["step"]) else { continue }
            for key in seriesKeys { if let y = number(o[key]) { points[key, default: []].append((x, y)) } }
        }
        guard points["loss"]?.isEmpty == false else { return nil }
        return seriesKeys.compactMap { key in
            guard let p = points[key], !p.isEmpty else { return nil }
            return LossCurve.Series(name: key, points: thin(p))
        }
    }

    static func thin(_ p: [(x: Double, y: Double)]) -> [(x: Double, y: Double)] {
        guard p.count > maxPoints else { return p }
        let stride = Double(p.count - 1) / Double(maxPoints - 1)
        return (0..<maxPoints).map { p[min(p.count - 1, Int((Double($0) * stride).rounded()))] }
    }

    /// `levels` of a sample-clusters report.
    static func clusterLevels(_ o: [String: Any]) -> [ClusterSizes.Level]? {
        guard let levels = o["levels"] as? [[String: Any]], !levels.isEmpty else { return nil }
        var result: [ClusterSizes.Level] = []
        for (i, l) in levels.enumerated() {
            guard let before = l["sizes_before"] as? [Any], let after = l["sizes_after"] as? [Any] else { return nil }
            let b = before.compactMap { number($0).map { Int($0) } }
            let a = after.compactMap { number($0).map { Int($0) } }
            guard b.count == before.count, a.count == after.count else { return nil }
            result.append(ClusterSizes.Level(level: (l["level"] as? Int) ?? i + 1, before: b, after: a))
        }
        return result
    }

    /// The best top-1 over the k values of an eval-knn metrics file.
    static func bestKNN(_ o: [String: Any]) -> (Double, Int)? {
        guard let results = o["results"] as? [[String: Any]] else { return nil }
        var best: (Double, Int)?
        for r in results {
            guard let t = number(r["top1"]) else { continue }
            let k = number(r["k"]).map { Int($0) } ?? 0
            if best == nil || t > best!.0 { best = (t, k) }
        }
        return best
    }

    /// Which model a metrics file is about: its `model` path when it has one (random init,
    /// teacher and student are different files), else the step name without the words
    /// eval, knn and linear (`eval-knn-teacher` and `eval-linear-teacher` share "teacher").
    static func modelKey(_ o: [String: Any], step: Step) -> (key: String, label: String, detail: String) {
        if let model = o["model"] as? String, !model.isEmpty {
            let name = ((model as NSString).lastPathComponent as NSString).deletingPathExtension
            return ("model:" + model, name, model)
        }
        let words = step.name.split(whereSeparator: { "-_[]./ ".contains($0) }).map(String.init)
        let kept = words.filter { !["eval", "knn", "linear", "probe"].contains($0.lowercased()) }
        let label = kept.isEmpty ? step.name : kept.joined(separator: "-")
        return ("step:" + label, label, step.name)
    }
}
