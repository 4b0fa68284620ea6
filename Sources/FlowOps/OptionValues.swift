import ArgumentParser
import FlowNumerics

// Op options whose values are a closed set parse into their types: ArgumentParser lists the
// allowed values in `--help` and in the error for any other value, and no op re-checks a string.

extension KMeansInit: ExpressibleByArgument {}
extension LeafStrategy: ExpressibleByArgument {}

/// How an image becomes the model's square input.
enum ResizeMode: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// Shorter side to the model's size, then the centre square.
    case centerCrop = "center-crop"
    /// Both sides to the model's size, whatever the aspect.
    case stretch
}

/// What an embedding is made of.
enum TokenPooling: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// The class token.
    case cls
    /// The class token and the mean of the patch tokens, side by side (twice the width).
    case clsMean = "cls+mean"
}

/// The file format of generated images.
enum ImageFileFormat: String, CaseIterable, ExpressibleByArgument, Sendable {
    case png, jpg
}
