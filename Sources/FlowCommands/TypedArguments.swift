import ArgumentParser
import FlowCore
import FlowRuntime

// Options whose values are a closed set are parsed into their types by ArgumentParser, which
// lists the allowed values in `--help` and in its error for any other.

extension ExecutorKind: ExpressibleByArgument {}
extension LinkMode: ExpressibleByArgument {}
