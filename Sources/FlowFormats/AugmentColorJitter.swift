/// torchvision `ColorJitter(brightness, contrast, saturation, hue)`.
///
/// One call draws a random order of the four adjustments, then the factors: brightness and
/// contrast from [1 - b, 1 + b], saturation from [1 - s, 1 + s], hue from [-h, h] (draws in
/// the order brightness, contrast, saturation, hue, as torchvision), and applies them in
/// that random order. A zero strength skips its adjustment (its factor is not drawn).
public struct ColorJitter: Equatable, Sendable {
    public var brightness: Double
    public var contrast: Double
    public var saturation: Double
    public var hue: Double

    /// DINOv2's jitter: (0.4, 0.4, 0.2, 0.1).
    public static let dinov2 = ColorJitter(brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1)

    public init(brightness: Double, contrast: Double, saturation: Double, hue: Double) {
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
        self.hue = hue
    }

    public func apply(_ image: inout ImageTensor, rng: inout AugmentRNG) {
        let order = rng.permutation(4)
        let b = brightness > 0 ? Float(rng.uniform(max(0, 1 - brightness), 1 + brightness)) : nil
        let c = contrast > 0 ? Float(rng.uniform(max(0, 1 - contrast), 1 + contrast)) : nil
        let s = saturation > 0 ? Float(rng.uniform(max(0, 1 - saturation), 1 + saturation)) : nil
        let h = hue > 0 ? Float(rng.uniform(-hue, hue)) : nil
        for step in order {
            switch step {
            case 0: if let b { Augment.adjustBrightness(&image, b) }
            case 1: if let c { Augment.adjustContrast(&image, c) }
            case 2: if let s { Augment.adjustSaturation(&image, s) }
            default: if let h { Augment.adjustHue(&image, h) }
            }
        }
    }
}
