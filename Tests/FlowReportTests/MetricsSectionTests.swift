import Foundation
import Testing
@testable import FlowReport

/// The report's metrics section: which sweeps get plots, against what, on which scale; and how a
/// run's record colours the graph.
@Suite struct MetricsSectionTests {
    func instance(_ c: String, _ seed: String, _ top1: String) -> MetricsSection.Instance {
        .init(step: "train[\(c),\(seed)]", baseName: "train", parameters: [("C", c), ("seed", seed)],
              metrics: [("val.top1", top1), ("note", "ok"), ("depth", "12")])
    }

    @Test func aProductIsPlottedAgainstItsFirstNumericVariableWithASeriesPerOtherValue() {
        let section = MetricsSection(table: [], instances: [
            instance("0.01", "0", "0.5"), instance("0.01", "1", "0.52"),
            instance("1", "0", "0.6"), instance("1", "1", "0.61"),
            .init(step: "eval", baseName: "eval", parameters: [], metrics: [("top1", "0.3")]),
        ])
        let plots = section.plots
        #expect(plots.map(\.metric) == ["val.top1"], "non-numeric or constant metrics and steps without variables get no plot")
        #expect(plots.first?.variable == "C")
        #expect(plots.first?.series.map(\.name) == ["seed=0", "seed=1"])
        #expect(plots.first?.logScale == true, "0.01 to 1 spans two decades")
        let svg = Chart.sweep(plots[0])
        #expect(svg.components(separatedBy: "<circle").count - 1 == 4)
        #expect(svg.contains(">C (log scale)</text>") && svg.contains(">val.top1</text>"))
        #expect(svg.contains(">0.01</text>") && svg.contains(">0.1</text>") && svg.contains(">1</text>"), "a tick per decade")
    }

    @Test func linearScaleForANarrowRangeAndNoPlotForOneValue() {
        let narrow = MetricsSection(table: [], instances: [
            .init(step: "t[1]", baseName: "t", parameters: [("lr", "1")], metrics: [("loss", "2")]),
            .init(step: "t[5]", baseName: "t", parameters: [("lr", "5")], metrics: [("loss", "1")]),
        ])
        #expect(narrow.plots.first?.logScale == false)
        let single = MetricsSection(table: [], instances: [
            .init(step: "t[a]", baseName: "t", parameters: [("name", "a")], metrics: [("loss", "2")]),
            .init(step: "t[b]", baseName: "t", parameters: [("name", "b")], metrics: [("loss", "1")]),
        ])
        #expect(single.plots.isEmpty, "a variable with no numeric values is not a sweep to plot")
    }

    @Test func aRunsRecordColoursEachStepByWhatItDidThen() {
        #expect(NodeState.record(.succeeded, runIsLive: false) == .ran)
        #expect(NodeState.record(.cached, runIsLive: false) == .cached)
        #expect(NodeState.record(.restored, runIsLive: false) == .restored)
        #expect(NodeState.record(.failed, runIsLive: false) == .failed)
        #expect(NodeState.record(.running, runIsLive: true) == .running)
        #expect(NodeState.record(.running, runIsLive: false) == .interrupted, "a run that is over is not running")
        #expect(NodeState.record(nil, runIsLive: false) == .skipped)
    }
}
