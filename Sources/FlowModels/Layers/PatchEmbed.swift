/// DINOv2's `PatchEmbed`: Conv2d(3, d, kernel = stride = patch) as one matrix product.
///
/// The conv weight [d, 3, P, P] is stored flattened as a Linear of [d, 3·P·P]; images are cut
/// into patches (im2col, channel-major inside a patch, like the weight) and patches are
/// numbered row-major over the (H/P)×(W/P) grid, as `x.flatten(2).transpose(1, 2)`.
public struct PatchEmbed: Equatable {
    public var channels: Int
    public var patch: Int
    public var dim: Int
    public var proj: Linear

    public init(channels: Int = 3, patch: Int, dim: Int) {
        self.channels = channels
        self.patch = patch
        self.dim = dim
        proj = Linear(inFeatures: channels * patch * patch, outFeatures: dim)
    }

    /// Cuts planar [B, C, H, W] images into [B·(H/P)·(W/P), C·P·P] patch rows.
    public func patches(_ images: [Float], batch: Int, height: Int, width: Int) -> [Float] {
        let p = patch, c = channels
        let gh = height / p, gw = width / p
        let cols = c * p * p
        var out = uninitializedFloats(batch * gh * gw * cols)
        if out.isEmpty { return out }  // no images, or none as large as a patch
        images.withUnsafeBufferPointer { ib in
            out.withUnsafeMutableBufferPointer { ob in
                let src = ib.start, dst = ob.start
                for b in 0..<batch {
                    for gy in 0..<gh {
                        for gx in 0..<gw {
                            let row = dst + ((b * gh + gy) * gw + gx) * cols
                            for ch in 0..<c {
                                for ky in 0..<p {
                                    let s = src + ((b * c + ch) * height + gy * p + ky) * width + gx * p
                                    (row + (ch * p + ky) * p).update(from: s, count: p)
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Planar [B, C, H, W] → patch embeddings [B·(H/P)·(W/P), d]. H and W must be multiples of P
    /// (the caller validates user input).
    public func forward(_ images: [Float], batch: Int, height: Int, width: Int) -> [Float] {
        precondition(height % patch == 0 && width % patch == 0, "PatchEmbed: size not a multiple of the patch")
        let rows = batch * (height / patch) * (width / patch)
        return proj.forward(patches(images, batch: batch, height: height, width: width), rows: rows)
    }
}
