import FlowFormats
import Testing
@testable import FlowModels

@Suite struct MaskTests {
    /// Half the 2B images get masks with int(N·U(p_i, p_{i+1})) ≤ int(N·p_{i+1}) patches, the
    /// ratios cover 0.1–0.5 in increasing bands, the others get none.
    @Test(arguments: [UInt64(1), 2, 3, 4])
    func batchRatiosAndCounts(seed: UInt64) {
        let generator = MaskGenerator(height: 16, width: 16)
        var rng = AugmentRNG(seed: seed)
        let images = 8
        let batch = generator.batch(images: images, rng: &rng)
        #expect(batch.images == images && batch.patches == 256 && batch.masks.count == images * 256)
        let counts = (0..<images).map { batch.maskedCount(image: $0) }
        #expect(counts.filter { $0 > 0 }.count == 4, "counts \(counts)")
        // Bands for n = 4: [0.1, 0.2), [0.2, 0.3), [0.3, 0.4), [0.4, 0.5) of 256 patches.
        let sorted = counts.filter { $0 > 0 }.sorted()
        for (i, c) in sorted.enumerated() {
            #expect(c <= Int(256 * (0.1 + 0.1 * Double(i + 1))), "image band \(i): \(c) patches")
            #expect(c >= Int(256 * 0.1) / 2, "image band \(i): only \(c) patches")
        }
        #expect(counts.max()! <= 128)
        #expect(batch.upperbound == [0.2, 0.3, 0.4, 0.5].map { Int(256 * $0) }.reduce(0, +))
        #expect(batch.patchImages.count == counts.reduce(0, +))
        #expect(batch.weights.enumerated().allSatisfy { i, w in w == 1 / Float(counts[batch.patchImages[i]]) })
    }

    /// Masks are a function of the RNG state: same state, same masks; the state moves on.
    @Test func deterministicGivenState() {
        let generator = MaskGenerator(height: 8, width: 12)
        var a = AugmentRNG(seed: 9), b = AugmentRNG(state: a.state)
        let first = generator.batch(images: 6, rng: &a)
        #expect(first == generator.batch(images: 6, rng: &b))
        #expect(a == b)
        #expect(generator.batch(images: 6, rng: &a) != first)
    }

    /// Single masks: at most `count` patches, each block a rectangle no larger than the cap.
    @Test func singleMaskRespectsCount() {
        let generator = MaskGenerator(height: 14, width: 14)
        var rng = AugmentRNG(seed: 5)
        var reached = 0
        for count in [0, 5, 20, 50, 98] {
            for _ in 0..<5 {
                let m = generator.mask(count: count, rng: &rng)
                let c = m.filter { $0 }.count
                #expect(c <= count)
                if c == count { reached += 1 }
            }
        }
        #expect(reached >= 20, "only \(reached) of 25 masks reached their target")
    }

    /// Gather and scatter of masked patch rows are inverse on the masked rows.
    @Test func gatherScatterMaskedRows() {
        let batch = MaskBatch(images: 2, patches: 3, masks: [false, true, false, true, false, true], upperbound: 3)
        let features: [Float] = (0..<12).map(Float.init)          // [2, 3, 2]
        #expect(batch.maskedIndices == [1, 3, 5] && batch.patchImages == [0, 1, 1])
        #expect(batch.gatherMasked(features, dim: 2) == [2, 3, 6, 7, 10, 11])
        #expect(batch.scatterMasked([2, 3, 6, 7, 10, 11], dim: 2) == [0, 0, 2, 3, 0, 0, 6, 7, 0, 0, 10, 11])
        #expect(batch.perImage == [[false, true, false], [true, false, true]])
        #expect(batch.weights == [1, 0.5, 0.5])
    }

    /// Distillation: all patches count, each weighted 1/N.
    @Test func allPatchesForDistillation() {
        let all = MaskBatch.allPatches(images: 2, patches: 4)
        #expect(all.maskedIndices == Array(0..<8) && all.patchImages == [0, 0, 0, 0, 1, 1, 1, 1])
        #expect(all.weights.allSatisfy { $0 == 0.25 })
    }
}
