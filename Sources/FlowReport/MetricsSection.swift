/// The report's metrics section: the table `flow metrics` prints, and for each sweep one plot
/// per numeric metric against the swept variable.
public struct MetricsSection: Sendable {
    /// The table as `flow metrics` lays it out: the header (step, variables, metrics), then one
    /// row per step instance.
    public var table: [[String]]
    /// The step instances, for the sweep plots.
    public var instances: [Instance]

    /// One step instance's fan-out values and metrics, in the file's order.
    public struct Instance: Sendable {
        public var step: String
        /// The step's base name: the instances of one fan-out share it.
        public var baseName: String
        public var parameters: [(name: String, value: String)]
        public var metrics: [(key: String, value: String)]

        public init(step: String, baseName: String, parameters: [(name: String, value: String)], metrics: [(key: String, value: String)]) {
            self.step = step
            self.baseName = baseName
            self.parameters = parameters
            self.metrics = metrics
        }
    }

    public init(table: [[String]], instances: [Instance]) {
        self.table = table
        self.instances = instances
    }

    /// One metric of a sweep against its swept variable: a series per combination of the other
    /// variables (`seed=0`, `seed=1`), or one series when there are none.
    public struct Plot: Sendable {
        public var step: String
        public var variable: String
        public var metric: String
        public var series: [LossCurve.Series]
        /// The variable's values are positive and span two decades or more (0.01 … 1).
        public var logScale: Bool
    }

    /// At most this many plots are drawn (a sweep with hundreds of metrics would bury the page).
    static let maxPlots = 60

    /// The plots of every sweep: a fan-out with a variable that takes two or more distinct
    /// numeric values (the first such variable, in the order of the step's brackets), for each
    /// metric that is a number in two or more of its instances and not the same in all.
    public var plots: [Plot] {
        var order: [String] = []
        var byStep: [String: [Instance]] = [:]
        for i in instances where !i.parameters.isEmpty {
            if byStep[i.baseName] == nil { order.append(i.baseName) }
            byStep[i.baseName, default: []].append(i)
        }
        var plots: [Plot] = []
        for step in order {
            let group = byStep[step] ?? []
            guard let variable = Self.sweptVariable(group) else { continue }
            var keys: [String] = []
            for i in group { for m in i.metrics where !keys.contains(m.key) { keys.append(m.key) } }
            for key in keys {
                var points: [String: [(x: Double, y: Double)]] = [:]
                var seriesOrder: [String] = []
                for i in group {
                    guard let x = i.parameters.first(where: { $0.name == variable }).flatMap({ Double($0.value) }),
                          let y = i.metrics.first(where: { $0.key == key }).flatMap({ Double($0.value) }), y.isFinite else { continue }
                    let name = i.parameters.filter { $0.name != variable }.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
                    if points[name] == nil { seriesOrder.append(name) }
                    points[name, default: []].append((x, y))
                }
                // A metric that is the same everywhere (the model's width, the data's size) says
                // nothing about the sweep: it stays in the table.
                let ys = points.values.flatMap { $0.map(\.y) }
                guard ys.count >= 2, Set(ys).count >= 2 else { continue }
                let xs = points.values.flatMap { $0.map(\.x) }
                let logScale = xs.allSatisfy { $0 > 0 } && (xs.max() ?? 0) / (xs.min() ?? 1) >= 100
                let series = seriesOrder.map { LossCurve.Series(name: $0.isEmpty ? key : $0, points: points[$0, default: []].sorted { $0.x < $1.x }) }
                plots.append(Plot(step: step, variable: variable, metric: key, series: series, logScale: logScale))
                if plots.count == Self.maxPlots { return plots }
            }
        }
        return plots
    }

    /// The first variable of a fan-out that takes two or more distinct numeric values.
    static func sweptVariable(_ group: [Instance]) -> String? {
        guard let names = group.first?.parameters.map(\.name) else { return nil }
        return names.first { name in
            let values = group.compactMap { $0.parameters.first { $0.name == name }?.value }
            return values.allSatisfy { Double($0)?.isFinite == true } && Set(values.compactMap(Double.init)).count >= 2
        }
    }
}
