import ArgumentParser

extension FlowCommand {
    /// Commands that show a workflow or a run: `graph`, `report`.
    static let reportCommands: [ParsableCommand.Type] = [GraphCommand.self, ReportCommand.self]
}
