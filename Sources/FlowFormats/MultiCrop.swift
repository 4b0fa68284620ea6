/// The crops of one image for DINOv2 training: 2 global and `localCount` local views.
public struct MultiCropViews: Sendable {
    /// Global crop 1 and global crop 2, `globalSize` square, normalised.
    public var globals: [ImageTensor]
    /// `localCount` local crops, `localSize` square, normalised.
    public var locals: [ImageTensor]
}

/// DINOv2's multi-crop augmentation (`dinov2/data/augmentations.py`, `DataAugmentationDINO`),
/// with the blur probabilities it effectively applies.
///
/// Every crop: RandomResizedCrop (bicubic) → horizontal flip p=0.5 → ColorJitter(0.4, 0.4,
/// 0.2, 0.1) p=0.8 → grayscale p=0.2 → then
/// - global 1: Gaussian blur never (the code passes `1 - p` with p = 1);
/// - global 2: blur p=0.9, then solarize (threshold 128) p=0.2;
/// - locals: blur p=0.5;
/// and finally ImageNet normalisation. Blur is a 9-tap kernel with σ ~ U(0.1, 2).
/// Global 1, global 2, then the locals consume the generator in that order, so one
/// `AugmentRNG` state fixes every crop.
public struct MultiCrop: Sendable {
    public var globalSize: Int
    public var localSize: Int
    public var localCount: Int
    public var globalScale: ClosedRange<Double>
    public var localScale: ClosedRange<Double>
    /// RandomResizedCrop's aspect-ratio range (torchvision's default).
    public var ratio: ClosedRange<Double> = (3.0 / 4.0)...(4.0 / 3.0)
    public var jitter = ColorJitter.dinov2
    public var jitterProbability = 0.8
    public var grayscaleProbability = 0.2
    public var flipProbability = 0.5
    /// Effective blur probabilities: global 1, global 2, locals.
    public var blurProbability: (global1: Double, global2: Double, local: Double) = (0, 0.9, 0.5)
    public var blurSigma: ClosedRange<Double> = 0.1...2.0
    public var solarizeProbability = 0.2
    /// Pillow-style (antialiased) resampling, as torchvision's default. False: PyTorch's
    /// plain bicubic (a = -0.75), which aliases when a crop is shrunk.
    public var antialias = true
    /// Apply ImageNet normalisation at the end (false leaves values in [0, 1]).
    public var normalize = true

    public init(globalSize: Int = 224, localSize: Int = 96, localCount: Int = 8,
                globalScale: ClosedRange<Double> = 0.32...1.0, localScale: ClosedRange<Double> = 0.05...0.32) {
        self.globalSize = globalSize
        self.localSize = localSize
        self.localCount = localCount
        self.globalScale = globalScale
        self.localScale = localScale
    }

    /// All crops of `image` (grey images are made RGB first).
    public func callAsFunction(_ image: ImageTensor, rng: inout AugmentRNG) -> MultiCropViews {
        let rgb = image.rgb()
        let g1 = crop(rgb, size: globalSize, scale: globalScale, blur: blurProbability.global1, solarize: 0, rng: &rng)
        let g2 = crop(rgb, size: globalSize, scale: globalScale, blur: blurProbability.global2,
                      solarize: solarizeProbability, rng: &rng)
        var locals: [ImageTensor] = []
        locals.reserveCapacity(localCount)
        for _ in 0..<localCount {
            locals.append(crop(rgb, size: localSize, scale: localScale, blur: blurProbability.local, solarize: 0, rng: &rng))
        }
        return MultiCropViews(globals: [g1, g2], locals: locals)
    }

    /// One view: geometry, colour, blur, optional solarize, normalisation.
    func crop(_ image: ImageTensor, size: Int, scale: ClosedRange<Double>, blur: Double, solarize: Double,
              rng: inout AugmentRNG) -> ImageTensor {
        var out = Augment.randomResizedCrop(image, size: size, scale: scale, ratio: ratio,
                                              antialias: antialias, rng: &rng)
        if rng.bernoulli(flipProbability) { Augment.horizontalFlip(&out) }
        if rng.bernoulli(jitterProbability) { jitter.apply(&out, rng: &rng) }
        if rng.bernoulli(grayscaleProbability) { Augment.grayscale(&out) }
        if rng.bernoulli(blur) {
            Augment.gaussianBlur(&out, sigma: rng.uniform(blurSigma.lowerBound, blurSigma.upperBound))
        }
        if solarize > 0, rng.bernoulli(solarize) { Augment.solarize(&out) }
        if normalize { ImageNetNormalization.apply(&out) }
        return out
    }
}
