/// The masks of one batch of global crops and the index lists the iBOT loss needs
/// (`collated_masks`, `mask_indices_list`, `masks_weight`, `upperbound` in dinov2/data/collate.py).
public struct MaskBatch: Equatable, Sendable {
    /// The number of global-crop images, 2B.
    public var images: Int
    /// Patches per image, N.
    public var patches: Int
    /// [images, patches] row-major; true = replaced by the mask token in the student.
    public var masks: [Bool]
    /// Σ over masked images of int(N · p_{i+1}): a bound on the masked-patch count for buffers.
    public var upperbound: Int

    public init(images: Int, patches: Int, masks: [Bool], upperbound: Int) {
        precondition(masks.count == images * patches, "MaskBatch: \(masks.count) flags for \(images)x\(patches)")
        self.images = images
        self.patches = patches
        self.masks = masks
        self.upperbound = upperbound
    }

    /// Every patch of every image selected: distillation runs iBOT on all patch tokens of the
    /// global crops, without masking the student's input (DINOv2 paper §5; pass no masks to the ViT).
    public static func allPatches(images: Int, patches: Int) -> MaskBatch {
        MaskBatch(images: images, patches: patches, masks: [Bool](repeating: true, count: images * patches), upperbound: images * patches)
    }

    /// Masked patches in image `image`.
    public func maskedCount(image: Int) -> Int {
        masks[(image * patches)..<((image + 1) * patches)].reduce(0) { $0 + ($1 ? 1 : 0) }
    }

    /// Flat indices (image · N + patch) of the masked patches, ascending.
    public var maskedIndices: [Int] { masks.indices.filter { masks[$0] } }

    /// For each masked patch (in `maskedIndices` order), the image it belongs to.
    public var patchImages: [Int] { maskedIndices.map { $0 / patches } }

    /// For each masked patch, 1/(masked patches in its image): DINOv2's `masks_weight`.
    public var weights: [Float] {
        let counts = (0..<images).map { maskedCount(image: $0) }
        return patchImages.map { 1 / Float(max(counts[$0], 1)) }
    }

    /// The masks as one array per image, the form `ViT.forward(masks:)` takes.
    public var perImage: [[Bool]] {
        (0..<images).map { Array(masks[($0 * patches)..<(($0 + 1) * patches)]) }
    }

    /// The masked rows of patch features [images, patches, dim] (row-major), as [M, dim] in
    /// `maskedIndices` order: what the iBOT head and loss see.
    public func gatherMasked(_ features: [Float], dim: Int) -> [Float] {
        precondition(features.count == images * patches * dim, "MaskBatch.gatherMasked: features are not [\(images), \(patches), \(dim)]")
        var out: [Float] = []
        out.reserveCapacity(maskedIndices.count * dim)
        for i in maskedIndices { out += features[(i * dim)..<((i + 1) * dim)] }
        return out
    }

    /// The inverse for gradients: [M, dim] rows back into a zero [images, patches, dim] array.
    public func scatterMasked(_ rows: [Float], dim: Int) -> [Float] {
        let indices = maskedIndices
        precondition(rows.count == indices.count * dim, "MaskBatch.scatterMasked: rows are not [\(indices.count), \(dim)]")
        var out = [Float](repeating: 0, count: images * patches * dim)
        for (r, i) in indices.enumerated() {
            for j in 0..<dim { out[i * dim + j] = rows[r * dim + j] }
        }
        return out
    }
}
