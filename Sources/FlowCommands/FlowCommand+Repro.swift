import ArgumentParser

extension FlowCommand {
    /// Commands that check results: `repro`.
    static let reproCommands: [ParsableCommand.Type] = [ReproCommand.self]
}
