import ArgumentParser
import FlowCore
import FlowOps

/// The built-in ops, as the engine sees them: names, versions, and argument checking done by
/// parsing the arguments exactly as `flow op NAME` will.
struct BuiltinOps: OpCatalog {
    var opNames: [String] { OpRegistry.all.map { $0._commandName } }

    func version(of op: String) -> Int? {
        OpRegistry.op(named: op)?.version
    }

    func writes(op: String, arguments: [String]) -> [String] {
        guard let type = OpRegistry.op(named: op), let parsed = try? type.parseAsRoot(arguments) as? WritesFiles else { return [] }
        return parsed.writtenFiles
    }

    /// The first `--option` in `arguments` that the op does not have, as ArgumentParser words it
    /// for a typo, with a "did you mean": checked before parsing, where a missing required option
    /// would otherwise be reported instead of the misspelt one.
    static func unknownOption(_ type: any ParsableCommand.Type, _ arguments: [String]) -> String? {
        // Ops with subcommands (`shards ls`) are left to ArgumentParser.
        guard type.configuration.subcommands.isEmpty else { return nil }
        let help = type.helpMessage(includeHidden: true, columns: 1000)
        var known = Set<String>()
        for word in help.split(whereSeparator: { " \n,[]<>()=".contains($0) }) where word.hasPrefix("--") && word.count > 2 {
            known.insert(String(word))
        }
        known.formUnion(["--help"])
        for a in arguments {
            if a == "--" { break }
            guard a.hasPrefix("--") else { continue }
            let name = String(a.split(separator: "=", maxSplits: 1).first ?? "")
            if !known.contains(name) {
                return "Unknown option '\(name)'." + (Spellcheck.suggestion(for: name, among: known).map { " Did you mean '\($0)'?" } ?? "")
            }
        }
        return nil
    }

    func validate(op: String, arguments: [String]) -> String? {
        guard let type = OpRegistry.op(named: op) else { return "unknown op" }
        if let unknown = BuiltinOps.unknownOption(type, arguments) { return unknown }
        do {
            _ = try type.parseAsRoot(arguments)
            return nil
        } catch is ValidationError {
            // Checks beyond parsing (files exist, values consistent) belong to run time:
            // inputs may not exist yet when the workflow is loaded.
            return nil
        } catch {
            // A request for help or a version is no error, whatever ArgumentParser prints for it.
            if type.exitCode(for: error) == .success { return nil }
            let message = type.message(for: error)
            if message.isEmpty { return nil }
            return message.split(separator: "\n").first.map(String.init) ?? message
        }
    }
}
