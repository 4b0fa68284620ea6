import Foundation
import Testing
import FlowTestSupport
import JPEG

/// A smooth RGB gradient, interleaved, that JPEG compresses well.
func gradientRGB(width: Int, height: Int) -> [UInt8] {
    var px = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0..<height {
        for x in 0..<width {
            let i = (y * width + x) * 3
            px[i] = UInt8(x * 255 / max(width - 1, 1))
            px[i + 1] = UInt8(y * 255 / max(height - 1, 1))
            px[i + 2] = UInt8((x + y) * 255 / max(width + height - 2, 1))
        }
    }
    return px
}

func meanAbsDiff(_ a: [UInt8], _ b: [UInt8]) -> Double {
    zip(a, b).reduce(0.0) { $0 + Double(abs(Int($1.0) - Int($1.1))) } / Double(max(a.count, 1))
}

@Suite struct JPEGTests {
    @Test func roundTripRGB() throws {
        let px = gradientRGB(width: 64, height: 48)
        let jpeg = try JPEGEncoder().encode(px, width: 64, height: 48, channels: 3, quality: 95, subsampling: .s444)
        #expect(Array(jpeg.prefix(2)) == [0xFF, 0xD8])
        let decoder = try JPEGDecoder()
        let head = try jpeg.withUnsafeBytes { try decoder.header($0) }
        #expect(head.width == 64 && head.height == 48)
        let back = try decoder.decode(jpeg)
        #expect(back.width == 64 && back.height == 48 && back.channels == 3)
        let err = meanAbsDiff(back.bytes, px)
        #expect(err < 1.5, "mean abs error \(err)")
    }

    @Test func greyscaleFileDecodesToRGBAndGrey() throws {
        let grey = (0..<(32 * 16)).map { UInt8($0 % 32 * 8) }
        let jpeg = try JPEGEncoder().encode(grey, width: 32, height: 16, channels: 1, quality: 100)
        let decoder = try JPEGDecoder()
        #expect(try decoder.decode(jpeg, channels: 1).bytes.count == 32 * 16)
        let rgb = try decoder.decode(jpeg, channels: 3)
        for i in stride(from: 0, to: rgb.bytes.count, by: 3) {
            #expect(rgb.bytes[i] == rgb.bytes[i + 1] && rgb.bytes[i] == rgb.bytes[i + 2])
        }
    }

    @Test func encodingIsDeterministic() throws {
        let px = gradientRGB(width: 40, height: 30)
        let a = try JPEGEncoder().encode(px, width: 40, height: 30, channels: 3)
        let b = try JPEGEncoder().encode(px, width: 40, height: 30, channels: 3)
        #expect(a == b)
    }

    @Test func garbageThrowsWithLibraryMessage() throws {
        let decoder = try JPEGDecoder()
        let error = #expect(throws: JPEGError.self) { try decoder.decode([0xFF, 0xD8, 0x00, 0x01, 0x02, 0x03]) }
        #expect(error?.message.isEmpty == false)
        #expect(throws: JPEGError.self) { try decoder.decode([UInt8]()) }
    }

    @Test func truncatedThrowsWhenStrictOnly() throws {
        let px = gradientRGB(width: 64, height: 64)
        let jpeg = try JPEGEncoder().encode(px, width: 64, height: 64, channels: 3)
        let cut = Array(jpeg.prefix(jpeg.count * 2 / 3))
        let decoder = try JPEGDecoder()
        let error = #expect(throws: JPEGError.self) { try decoder.decode(cut) }
        #expect(error?.isWarning == true)
        // Lenient: libjpeg fills the missing part and reports only a warning.
        let partial = try decoder.decode(cut, strict: false)
        #expect(partial.width == 64)
        // The decoder is still usable after an error.
        #expect(try decoder.decode(jpeg).width == 64)
    }

    /// A header claiming 60000x60000 pixels is refused before 10 GB are allocated.
    @Test func hugeHeaderIsRefused() throws {
        var jpeg = try JPEGEncoder().encode(gradientRGB(width: 16, height: 16), width: 16, height: 16, channels: 3)
        guard let sof = (0..<(jpeg.count - 9)).first(where: { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 }) else {
            Issue.record("no SOF0 marker")
            return
        }
        jpeg.replaceSubrange((sof + 5)..<(sof + 9), with: [0xEA, 0x60, 0xEA, 0x60])
        let decoder = try JPEGDecoder()
        #expect(try jpeg.withUnsafeBytes { try decoder.header($0) }.width == 60000)
        let error = #expect(throws: JPEGError.self) { try decoder.decode(jpeg) }
        #expect(error?.message.contains("over the limit") == true)
    }

    @Test func badArgumentsThrow() throws {
        let encoder = try JPEGEncoder()
        #expect(throws: JPEGError.self) { try encoder.encode([1, 2, 3], width: 2, height: 2, channels: 3) }
        #expect(throws: JPEGError.self) { try encoder.encode([UInt8](repeating: 0, count: 12), width: 2, height: 2, channels: 3, quality: 0) }
        encoder.close()
        encoder.close()
        #expect(throws: JPEGError.self) { try encoder.encode([UInt8](repeating: 0, count: 12), width: 2, height: 2, channels: 3) }
    }

    /// Pillow (also libjpeg-turbo, accurate DCT, fancy upsampling) decodes our file to nearly
    /// the same pixels, and we decode Pillow's file to nearly the same pixels as Pillow.
    @Test func matchesPillow() throws {
        let python = try Python.require(["PIL", "numpy"])
        let dir = TemporaryDirectory("jpeg-pillow")
        var rng = SeededGenerator(seed: 7)
        var px = gradientRGB(width: 48, height: 40)
        for i in px.indices { px[i] = px[i] &+ UInt8.random(in: 0...20, using: &rng) }
        let ours = try JPEGEncoder().encode(px, width: 48, height: 40, channels: 3, quality: 90)
        try Data(ours).write(to: dir.url("ours.jpg"))
        let script = """
        import numpy as np; from PIL import Image
        a = np.asarray(Image.open('ours.jpg').convert('RGB')); a.tofile('ours.rgb')
        Image.fromarray(np.fromfile('src.rgb', dtype=np.uint8).reshape(40, 48, 3)).save('pil.jpg', quality=85)
        np.asarray(Image.open('pil.jpg').convert('RGB')).tofile('pil.rgb')
        """
        try Data(px).write(to: dir.url("src.rgb"))
        let result = try Python.run(python, script: script, in: dir.path)
        #expect(result.status == 0, "\(result)")
        let pillowOfOurs = [UInt8](try dir.readData("ours.rgb"))
        let decoder = try JPEGDecoder()
        let diff1 = meanAbsDiff(try decoder.decode(ours).bytes, pillowOfOurs)
        let pillowFile = [UInt8](try dir.readData("pil.jpg"))
        let pillowOfPillow = [UInt8](try dir.readData("pil.rgb"))
        let diff2 = meanAbsDiff(try decoder.decode(pillowFile).bytes, pillowOfPillow)
        #expect(diff1 < 0.5, "mean abs difference to Pillow \(diff1)")
        #expect(diff2 < 0.5, "mean abs difference to Pillow \(diff2)")
    }
}
