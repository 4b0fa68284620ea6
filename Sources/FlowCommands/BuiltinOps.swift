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

    func validate(op: String, arguments: [String]) -> String? {
        guard let type = OpRegistry.op(named: op) else { return "unknown op" }
        do {
            _ = try type.parseAsRoot(arguments)
            return nil
        } catch is ValidationError {
            // Checks beyond parsing (files exist, values consistent) belong to run time:
            // inputs may not exist yet when the workflow is loaded.
            return nil
        } catch {
            let message = type.message(for: error)
            if message.isEmpty || message.hasPrefix("OVERVIEW") || message.hasPrefix("USAGE") { return nil }
            return message.split(separator: "\n").first.map(String.init) ?? message
        }
    }
}
