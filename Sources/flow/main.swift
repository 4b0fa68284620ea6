import FlowCommands

FlowCommand.main()
