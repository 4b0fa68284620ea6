import Foundation
import Testing
import FlowTestSupport
@testable import FlowFormats

/// Resize checked against independent references: a NumPy transcription of PyTorch's
/// `upsample_bicubic2d` / `upsample_bilinear2d` (computed directly in 2-D, in float64), and
/// Pillow's own resampler on float ("F") images for the antialiased path.
@Suite struct ImageResizeTests {
    static func image(_ c: Int, _ h: Int, _ w: Int, seed: UInt64) -> ImageTensor {
        var rng = SeededGenerator(seed: seed)
        return ImageTensor(channels: c, height: h, width: w,
                           data: (0..<(c * h * w)).map { _ in Float.random(in: 0..<1, using: &rng) })
    }

    static func f32(_ data: Data) -> [Float] { data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) } }

    static let torchReference = """
    import numpy as np, sys
    h, w, H, W, mode = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    x = np.fromfile('in.f32', dtype=np.float32).astype(np.float64).reshape(-1, h, w)
    A = -0.75
    def cubic(t):
        t = abs(t)
        return ((A + 2) * t - (A + 3)) * t * t + 1 if t <= 1 else ((A * t - 5 * A) * t + 8 * A) * t - 4 * A
    def taps(n_in, n_out):
        s = n_in / n_out; out = []
        for i in range(n_out):
            r = s * (i + 0.5) - 0.5
            if mode == 'bicubic':
                f = int(np.floor(r)); t = r - f
                out.append([(min(max(f - 1 + k, 0), n_in - 1), cubic(t + 1 - k)) for k in range(4)])
            else:
                r = max(r, 0.0); f = int(r); l = r - f; f1 = f + (1 if f < n_in - 1 else 0)
                out.append([(f, 1 - l), (f1, l)])
        return out
    ty, tx = taps(h, H), taps(w, W)
    y = np.zeros((x.shape[0], H, W))
    for i in range(H):
        for j in range(W):
            for (a, wa) in ty[i]:
                for (b, wb) in tx[j]:
                    y[:, i, j] += wa * wb * x[:, a, b]
    y.astype(np.float32).tofile('out.f32')
    """

    @Test(arguments: [("bicubic", 9, 13, 20, 6), ("bicubic", 17, 11, 5, 23), ("bilinear", 9, 13, 20, 6), ("bilinear", 7, 5, 3, 12)])
    func plainResizeMatchesPyTorchFormula(mode: String, h: Int, w: Int, outH: Int, outW: Int) throws {
        let python = try Python.require(["numpy"])
        let dir = TemporaryDirectory("resize")
        let img = Self.image(3, h, w, seed: 3)
        try img.data.withUnsafeBytes { try Data($0).write(to: dir.url("in.f32")) }
        let r = try Python.run(python, script: Self.torchReference, in: dir.path, args: ["\(h)", "\(w)", "\(outH)", "\(outW)", mode])
        #expect(r.status == 0, "\(r)")
        let want = Self.f32(try dir.readData("out.f32"))
        let got = Resize.resize(img, height: outH, width: outW, filter: mode == "bicubic" ? .bicubic : .bilinear)
        #expect(got.height == outH && got.width == outW && got.channels == 3)
        let worst = zip(got.data, want).map { abs($0 - $1) }.max() ?? 1
        #expect(worst < 1e-5, "max abs difference \(worst)")
    }

    @Test(arguments: [("bicubic", 40, 30, 7, 11), ("bicubic", 6, 9, 14, 10), ("bilinear", 40, 30, 7, 11)])
    func antialiasedResizeMatchesPillow(mode: String, h: Int, w: Int, outH: Int, outW: Int) throws {
        let python = try Python.require(["numpy", "PIL"])
        let dir = TemporaryDirectory("resize-aa")
        let img = Self.image(1, h, w, seed: 4)
        try img.data.withUnsafeBytes { try Data($0).write(to: dir.url("in.f32")) }
        // Crop rows 3..<h-2 and columns 2..<w-1, then resize (Pillow's resize(box:) would also read
        // pixels outside the box; torchvision crops first).
        let script = """
        import numpy as np, sys
        from PIL import Image
        h, w, H, W = map(int, sys.argv[1:5]); f = Image.BICUBIC if sys.argv[5] == 'bicubic' else Image.BILINEAR
        im = Image.fromarray(np.fromfile('in.f32', dtype=np.float32).reshape(h, w), mode='F')
        np.asarray(im.resize((W, H), f), dtype=np.float32).tofile('full.f32')
        np.asarray(im.crop((2, 3, w - 1, h - 2)).resize((W, H), f), dtype=np.float32).tofile('box.f32')
        """
        let r = try Python.run(python, script: script, in: dir.path, args: ["\(h)", "\(w)", "\(outH)", "\(outW)", mode])
        #expect(r.status == 0, "\(r)")
        let filter: ResizeFilter = mode == "bicubic" ? .bicubic : .bilinear
        let full = Resize.resize(img, height: outH, width: outW, filter: filter, antialias: true)
        let box = Resize.resize(img, height: outH, width: outW, filter: filter, antialias: true,
                                region: PixelRegion(top: 3, left: 2, height: h - 5, width: w - 3))
        for (got, file) in [(full, "full.f32"), (box, "box.f32")] {
            let want = Self.f32(try dir.readData(file))
            let worst = zip(got.data, want).map { abs($0 - $1) }.max() ?? 1
            #expect(want.count == got.data.count && worst < 1e-5, "\(file): max abs difference \(worst)")
        }
    }

    @Test func sameSizeIsIdentityAndConstantsStayConstant() {
        let img = Self.image(3, 6, 5, seed: 5)
        #expect(Resize.bicubic(img, height: 6, width: 5) == img)
        #expect(Resize.bilinear(img, height: 6, width: 5) == img)
        let flat = ImageTensor(channels: 1, height: 9, width: 4, value: 0.25)
        for aa in [false, true] {
            for out in [Resize.bicubic(flat, height: 3, width: 11, antialias: aa), Resize.bilinear(flat, height: 20, width: 2, antialias: aa)] {
                #expect(out.data.allSatisfy { abs($0 - 0.25) < 1e-6 })
            }
        }
    }

    @Test func regionEqualsCropThenResize() {
        let img = Self.image(3, 12, 10, seed: 6)
        let region = PixelRegion(top: 2, left: 3, height: 7, width: 5)
        let crop = img.cropped(top: 2, left: 3, height: 7, width: 5)
        for aa in [false, true] {
            let a = Resize.resize(img, height: 9, width: 4, filter: .bicubic, antialias: aa, region: region)
            let b = Resize.resize(crop, height: 9, width: 4, filter: .bicubic, antialias: aa)
            #expect(a == b)
        }
    }
}
