import Testing
@testable import FlowReport

@Suite struct FlowReportModuleTests {
    @Test func moduleLinks() {
        #expect(String(describing: FlowReport.self) == "FlowReport")
    }
}
