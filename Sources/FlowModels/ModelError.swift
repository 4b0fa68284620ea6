/// A model that cannot be built, loaded or run: names the file (when there is one), the
/// tensor or setting at fault, and what to do.
public struct ModelError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
