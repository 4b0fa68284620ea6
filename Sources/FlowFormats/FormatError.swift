/// A file that flow cannot read or write as the format it claims to be.
///
/// Shared by every reader and writer in FlowFormats. `message` says what is wrong and where
/// (byte offset, tensor name, sample key or tar entry), and, when it helps, what to do.
/// Printed as `PATH: MESSAGE`.
public struct FormatError: Error, CustomStringConvertible, Equatable {
    /// The file at fault (or the name a caller gave an in-memory buffer).
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}
