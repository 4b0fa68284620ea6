import Dispatch
import FlowFormats

/// The multi-crop views of one batch, laid out as the backbone takes them: crop-major, so that
/// the rows of crop c are images `c·B ..< (c+1)·B` (DINOv2's collate order).
public struct CropBatch {
    public var batch: Int
    /// [2B, 3, G, G]: global crop 1 of every image, then global crop 2.
    public var globals: [Float]
    /// [L·B, 3, S, S]: local crop 1 of every image, then local crop 2, ...
    public var locals: [Float]

    /// Given views (e.g. read back from a dump), in the layout above.
    public init(batch: Int, globals: [Float], locals: [Float]) {
        self.batch = batch
        self.globals = globals
        self.locals = locals
    }

    /// The views of `images` under `multiCrop`. Image i's crops come from its own generator,
    /// `AugmentRNG(seed: seed, index: firstIndex + i)`, so the result does not depend on
    /// `threads` or on the order the images are processed in.
    public init(images: [ImageTensor], multiCrop: MultiCrop, seed: UInt64, firstIndex: Int, threads: Int) {
        let b = images.count
        batch = b
        let g = multiCrop.globalSize, s = multiCrop.localSize, l = multiCrop.localCount
        let gSize = 3 * g * g, sSize = 3 * s * s
        var globals = [Float](repeating: 0, count: 2 * b * gSize)
        var locals = [Float](repeating: 0, count: l * b * sSize)
        globals.withUnsafeMutableBufferPointer { gp in
            locals.withUnsafeMutableBufferPointer { lp in
                // Each image writes only its own rows: the workers never touch the same floats.
                nonisolated(unsafe) let globalsOut = gp, localsOut = lp
                let parts = max(1, min(threads, b))
                DispatchQueue.concurrentPerform(iterations: parts) { part in
                    for i in (b * part / parts)..<(b * (part + 1) / parts) {
                        var rng = AugmentRNG(seed: seed, index: UInt64(firstIndex + i))
                        let views = multiCrop(images[i], rng: &rng)
                        for (c, v) in views.globals.enumerated() {
                            let start = (c * b + i) * gSize
                            _ = globalsOut[start..<(start + gSize)].update(fromContentsOf: v.data)
                        }
                        for (c, v) in views.locals.enumerated() {
                            let start = (c * b + i) * sSize
                            _ = localsOut[start..<(start + sSize)].update(fromContentsOf: v.data)
                        }
                    }
                }
            }
        }
        self.globals = globals
        self.locals = locals
    }
}

extension ViTOutput {
    /// x_norm_patchtokens, [B, patches, dim].
    public var patchTokens: [Float] {
        let first = 1 + registers, n = tokenCount - first
        var out = [Float](repeating: 0, count: batch * n * dim)
        for b in 0..<batch {
            let src = (b * tokenCount + first) * dim
            for i in 0..<(n * dim) { out[b * n * dim + i] = tokens[src + i] }
        }
        return out
    }
}
