/// ImageNet's per-channel normalisation, `(x - mean) / std`, as torchvision's `Normalize`
/// with mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225). Needs 3 channels (RGB).
public enum ImageNetNormalization {
    public static let mean: [Float] = [0.485, 0.456, 0.406]
    public static let std: [Float] = [0.229, 0.224, 0.225]

    public static func apply(_ image: inout ImageTensor) {
        precondition(image.channels == 3, "ImageNetNormalization needs RGB, got \(image.channels) channels")
        let plane = image.planeSize
        image.data.withUnsafeMutableBufferPointer { d in
            for c in 0..<3 {
                let m = mean[c], s = std[c]
                for i in (c * plane)..<((c + 1) * plane) { d[i] = (d[i] - m) / s }
            }
        }
    }

    /// The inverse, back to [0, 1] values (for looking at augmented crops).
    public static func invert(_ image: inout ImageTensor) {
        precondition(image.channels == 3, "ImageNetNormalization needs RGB, got \(image.channels) channels")
        let plane = image.planeSize
        image.data.withUnsafeMutableBufferPointer { d in
            for c in 0..<3 {
                let m = mean[c], s = std[c]
                for i in (c * plane)..<((c + 1) * plane) { d[i] = d[i] * s + m }
            }
        }
    }
}
