import Foundation
import Testing
import FlowTestSupport
@testable import FlowFormats
import PNG

@Suite struct ImageCodecTests {
    func randomImage(channels: Int, height: Int, width: Int, seed: UInt64) -> ImageTensor {
        var rng = SeededGenerator(seed: seed)
        let bytes = (0..<(channels * height * width)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        return ImageTensor(interleaved: bytes, channels: channels, height: height, width: width)
    }

    @Test func pngRoundTripIsExactAndPlanar() throws {
        let img = randomImage(channels: 3, height: 5, width: 7, seed: 1)
        let back = try ImageCodec.decode(try ImageCodec.encodePNG(img), hint: "png")
        #expect(back == img)
        // Planar layout: the red plane comes first.
        #expect(img[0, 0, 1] == img.data[1])
        #expect(img[1, 0, 0] == img.data[35])
    }

    @Test func greyAndRGBAPNGsBecomeRGB() throws {
        let grey: [UInt8] = [0, 128, 255, 7]
        let g = try ImageCodec.decode(try PNGTestFiles.png(grey, width: 2, height: 2, channels: 1))
        #expect(g.channels == 3 && g.data == (grey + grey + grey).map { Float($0) / 255 })
        let rgba: [UInt8] = [10, 20, 30, 0, 40, 50, 60, 255]
        let c = try ImageCodec.decode(try PNGTestFiles.png(rgba, width: 2, height: 1, channels: 4))
        // Alpha is dropped, not composited (Pillow's convert("RGB")).
        #expect(c.interleavedBytes() == [10, 20, 30, 40, 50, 60])
        let l = try ImageCodec.decode(try PNGTestFiles.png([255, 0, 0, 0, 0, 255], width: 2, height: 1, channels: 3), channels: 1)
        // Pillow "L": (R*19595 + G*38470 + B*7471 + 0x8000) >> 16.
        #expect(l.interleavedBytes() == [76, 29])
    }

    @Test func jpegRoundTripIsClose() throws {
        var img = ImageTensor(channels: 3, height: 16, width: 24)
        for c in 0..<3 { for y in 0..<16 { for x in 0..<24 { img[c, y, x] = Float(x + y * c) / 64 } } }
        let back = try ImageCodec.decode(try ImageCodec.encodeJPEG(img, quality: 95), hint: "jpg")
        let err = zip(back.data, img.data).map { abs($0 - $1) }.reduce(0, +) / Float(img.data.count)
        #expect(err < 0.02, "mean abs error \(err)")
        #expect(ImageFormat.sniff(try ImageCodec.encodeJPEG(img)) == .jpeg)
    }

    @Test func corruptImageNamesKeyAndShard() throws {
        var png = try ImageCodec.encodePNG(randomImage(channels: 3, height: 8, width: 8, seed: 2))
        png[png.count - 30] ^= 0xFF
        let e = #expect(throws: ImageError.self) { try ImageCodec.decode(png, hint: "png", key: "000042", shard: "data/train-000003.tar") }
        #expect(e?.source == .png)
        #expect(e?.description.hasPrefix("data/train-000003.tar: sample 000042: cannot decode image: libpng: ") == true)
        let j = #expect(throws: ImageError.self) { try ImageCodec.decode([0xFF, 0xD8, 0xFF, 0xE0, 0, 0], hint: "jpg") }
        #expect(j?.source == .jpeg)
        let u = #expect(throws: ImageError.self) { try ImageCodec.decode(Array("hello".utf8), hint: "jpg") }
        #expect(u?.description == "cannot decode image: flow: neither JPEG nor PNG (entry claims .jpg): 5 bytes starting [68 65 6c 6c 6f]")
    }

    @Test func normalizationMatchesFormulaAndInverts() {
        var img = ImageTensor(channels: 3, height: 1, width: 2, data: [0, 1, 0.5, 0.5, 0.2, 0.9])
        let orig = img
        ImageNetNormalization.apply(&img)
        #expect(abs(img.data[0] - (0 - 0.485) / 0.229) < 1e-6)
        #expect(abs(img.data[5] - (0.9 - 0.406) / 0.225) < 1e-6)
        ImageNetNormalization.invert(&img)
        #expect(zip(img.data, orig.data).allSatisfy { abs($0 - $1) < 1e-6 })
    }
}

/// Builds PNG files through the wrapper, for tests of the FlowFormats layer.
enum PNGTestFiles {
    static func png(_ bytes: [UInt8], width: Int, height: Int, channels: Int) throws -> [UInt8] {
        if channels == 1 || channels == 3 {
            return try ImageCodec.encodePNG(ImageTensor(interleaved: bytes, channels: channels, height: height, width: width))
        }
        return try PNG.encode(bytes, width: width, height: height, channels: channels)
    }
}
