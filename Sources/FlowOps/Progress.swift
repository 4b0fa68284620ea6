import Foundation

/// Reports a running step's progress to flow's status area.
///
/// The channel (documented in docs/dag-language.md): flow sets FLOW_PROGRESS to the path of a
/// file; a step appends one line of text per update ("epoch 3/10 loss 2.31"), and flow shows the
/// last line beside the step. Any program can use it; outside flow the calls do nothing.
public final class Progress: Sendable {
    public static let shared = Progress()
    private let handle: FileHandle?

    private init() {
        if let path = ProcessInfo.processInfo.environment["FLOW_PROGRESS"], !path.isEmpty {
            // Created on the first report: flow does not make a file per step that most never use.
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            handle = fd >= 0 ? FileHandle(fileDescriptor: fd, closeOnDealloc: true) : nil
        } else {
            handle = nil
        }
    }

    /// Appends one progress line; newlines inside `line` are replaced by spaces.
    public func report(_ line: String) {
        guard let handle else { return }
        let clean = line.replacingOccurrences(of: "\n", with: " ")
        handle.write(Data((clean + "\n").utf8))
    }
}
