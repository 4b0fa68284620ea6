import Foundation
import FlowFormats

/// BEiT-style block masking of a patch grid (`MaskingGenerator` in dinov2/data/masking.py).
///
/// A mask of `count` patches is grown by rectangles: each has area U(minBlockPatches, cap) and
/// aspect ratio exp(U(ln minAspect, ln maxAspect)), where cap = min(patches still wanted,
/// maxBlockPatches); a rectangle is kept only if it adds between 1 and cap new patches, with up
/// to 10 tries per block. Growth stops at `count` or when a block adds nothing, so a mask has
/// at most `count` patches (fewer when the grid is too small for the rectangles).
///
/// Randomness comes only from the `AugmentRNG` passed in (its state is a plain value saved in
/// checkpoints), so a seed fixes every mask.
public struct MaskGenerator: Equatable, Codable, Sendable {
    /// The patch grid, e.g. 16×16 for 224-pixel crops with patch 14.
    public var height: Int
    public var width: Int
    /// 4 in DINOv2.
    public var minBlockPatches: Double
    /// Per-block cap; DINOv2's train.py uses half the grid.
    public var maxBlockPatches: Double
    public var minAspect: Double
    public var maxAspect: Double

    public init(height: Int, width: Int, maxBlockPatches: Double? = nil, minBlockPatches: Double = 4,
                minAspect: Double = 0.3, maxAspect: Double? = nil) {
        self.height = height
        self.width = width
        self.minBlockPatches = minBlockPatches
        self.maxBlockPatches = maxBlockPatches ?? 0.5 * Double(height * width)
        self.minAspect = minAspect
        self.maxAspect = maxAspect ?? 1 / minAspect
    }

    public var patches: Int { height * width }

    /// A row-major [height·width] mask with at most `count` patches set.
    public func mask(count: Int, rng: inout AugmentRNG) -> [Bool] {
        var mask = [Bool](repeating: false, count: patches)
        var masked = 0
        while masked < count {
            let cap = min(Double(count - masked), maxBlockPatches)
            let delta = addBlock(&mask, cap: cap, rng: &rng)
            if delta == 0 { break }
            masked += delta
        }
        return mask
    }

    /// One block: up to 10 tries; returns the number of newly masked patches.
    private func addBlock(_ mask: inout [Bool], cap: Double, rng: inout AugmentRNG) -> Int {
        let logAspect = (Foundation.log(minAspect), Foundation.log(maxAspect))
        var delta = 0
        for _ in 0..<10 {
            let area = rng.uniform(minBlockPatches, cap)      // Python's uniform(a, b) also allows b < a
            let aspect = Foundation.exp(rng.uniform(logAspect.0, logAspect.1))
            // Python's round() is round-half-even.
            let h = Int((area * aspect).squareRoot().rounded(.toNearestOrEven))
            let w = Int((area / aspect).squareRoot().rounded(.toNearestOrEven))
            if w < width && h < height {
                let top = rng.int(below: height - h + 1)      // randint(0, height − h), inclusive
                let left = rng.int(below: width - w + 1)
                var already = 0
                for i in top..<(top + h) { for j in left..<(left + w) where mask[i * width + j] { already += 1 } }
                let added = h * w - already
                if added > 0 && Double(added) <= cap {
                    for i in top..<(top + h) {
                        for j in left..<(left + w) where !mask[i * width + j] {
                            mask[i * width + j] = true
                            delta += 1
                        }
                    }
                }
                if delta > 0 { break }
            }
        }
        return delta
    }

    /// Masks for a batch of `images` global crops (`collate_data_and_cast` in dinov2/data/collate.py):
    /// int(images · probability) of them get masks, image i of those a ratio drawn from
    /// U(p_i, p_{i+1}) with p = linspace(ratio.lower, ratio.upper, n + 1), i.e. int(N · ratio)
    /// patches; the rest get none; then the list is shuffled.
    public func batch(images: Int, probability: Double = 0.5, ratio: ClosedRange<Double> = 0.1...0.5,
                      rng: inout AugmentRNG) -> MaskBatch {
        let n = patches
        let maskedImages = Int(Double(images) * probability)
        var list: [[Bool]] = []
        var upperbound = 0
        for i in 0..<maskedImages {
            let lo = ratio.lowerBound + (ratio.upperBound - ratio.lowerBound) * Double(i) / Double(maskedImages)
            let hi = ratio.lowerBound + (ratio.upperBound - ratio.lowerBound) * Double(i + 1) / Double(maskedImages)
            list.append(mask(count: Int(Double(n) * rng.uniform(lo, hi)), rng: &rng))
            upperbound += Int(Double(n) * hi)
        }
        for _ in maskedImages..<max(images, maskedImages) { list.append([Bool](repeating: false, count: n)) }
        let order = rng.permutation(list.count)
        var flat: [Bool] = []
        flat.reserveCapacity(list.count * n)
        for i in order { flat += list[i] }
        return MaskBatch(images: list.count, patches: n, masks: flat, upperbound: upperbound)
    }
}
