import Foundation
import Testing
import FlowTestSupport
import PNG

@Suite struct PNGTests {
    @Test(arguments: [1, 2, 3, 4])
    func roundTripIsExact(channels: Int) throws {
        var rng = SeededGenerator(seed: UInt64(channels))
        let (w, h) = (13, 7)
        let px = (0..<(w * h * channels)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let png = try PNG.encode(px, width: w, height: h, channels: channels)
        #expect(Array(png.prefix(8)) == PNG.signature)
        #expect(try PNG.header(png) == PNGHeader(width: w, height: h, channels: channels, is16Bit: false))
        let back = try PNG.decode(png)
        #expect(back.channels == channels && back.width == w && back.height == h)
        #expect(back.bytes == px)
        #expect(try PNG.encode(px, width: w, height: h, channels: channels) == png)
    }

    @Test func greyExpandsToRGB() throws {
        let grey: [UInt8] = [0, 50, 100, 150, 200, 255]
        let png = try PNG.encode(grey, width: 3, height: 2, channels: 1)
        let rgb = try PNG.decode(png, channels: 3)
        #expect(rgb.bytes == grey.flatMap { [$0, $0, $0] })
    }

    @Test func corruptAndTruncatedThrow() throws {
        let px = [UInt8](repeating: 128, count: 32 * 32 * 3)
        var png = try PNG.encode(px, width: 32, height: 32, channels: 3)
        #expect(throws: PNGError.self) { try PNG.decode(Array(png.prefix(png.count - 20))) }
        png[png.count / 2] ^= 0x55  // inside IDAT: the chunk CRC no longer matches
        let error = #expect(throws: PNGError.self) { try PNG.decode(png) }
        #expect(error?.code == 2)
        #expect(error?.message.isEmpty == false)
        #expect(throws: PNGError.self) { try PNG.decode(Array("not a png".utf8)) }
        #expect(throws: PNGError.self) { try PNG.decode([]) }
        #expect(throws: PNGError.self) { try PNG.header([]) }
    }

    @Test func pixelLimitIsEnforced() throws {
        let png = try PNG.encode([UInt8](repeating: 9, count: 13 * 7), width: 13, height: 7, channels: 1)
        #expect(try PNG.decode(png, maxPixels: 91).width == 13)
        #expect(throws: PNGError.self) { try PNG.decode(png, maxPixels: 90) }
    }

    @Test func badArgumentsThrow() {
        #expect(throws: PNGError.self) { try PNG.encode([1, 2], width: 1, height: 1, channels: 3) }
        #expect(throws: PNGError.self) { try PNG.encode([1], width: 1, height: 1, channels: 5) }
    }

    /// 16-bit RGB, palette-with-transparency and grey+alpha files written by Python decode to
    /// what Pillow reports (16-bit: the top byte, within rounding).
    @Test func matchesPillow() throws {
        let python = try Python.require(["PIL", "numpy"])
        let dir = TemporaryDirectory("png-pillow")
        let script = """
        import numpy as np, zlib, struct
        from PIL import Image
        rng = np.random.default_rng(0)
        def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
        a16 = rng.integers(0, 65536, size=(5, 6, 3), dtype=np.uint16)
        raw = b''.join(b'\\x00' + a16[y].astype('>u2').tobytes() for y in range(5))
        png = b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 6, 5, 16, 2, 0, 0, 0)) \\
            + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b'')
        open('rgb16.png', 'wb').write(png); a16.tofile('rgb16.u16')
        p = Image.fromarray(rng.integers(0, 4, size=(4, 5), dtype=np.uint8), mode='P')
        p.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9]); p.info['transparency'] = 2
        p.save('pal.png', transparency=2)
        np.asarray(Image.open('pal.png').convert('RGBA')).tofile('pal.rgba')
        la = Image.fromarray(rng.integers(0, 256, size=(3, 4, 2), dtype=np.uint8), mode='LA'); la.save('la.png')
        np.asarray(Image.open('la.png')).tofile('la.raw')
        """
        let result = try Python.run(python, script: script, in: dir.path)
        #expect(result.status == 0, "\(result)")
        guard result.status == 0 else { return }

        let rgb16 = try PNG.decode([UInt8](try dir.readData("rgb16.png")))
        #expect(try PNG.header([UInt8](try dir.readData("rgb16.png"))).is16Bit)
        let words = try dir.readData("rgb16.u16").withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) }
        #expect(rgb16.channels == 3 && rgb16.bytes.count == words.count)
        let worst = zip(rgb16.bytes, words).map { abs(Int($0.0) - Int($0.1) * 255 / 65535) }.max() ?? 99
        #expect(worst <= 1, "16-bit reduction differs from value/257 by \(worst)")

        let pal = try PNG.decode([UInt8](try dir.readData("pal.png")), channels: 4)
        #expect(pal.bytes == [UInt8](try dir.readData("pal.rgba")))
        let la = try PNG.decode([UInt8](try dir.readData("la.png")))
        #expect(la.channels == 2)
        #expect(la.bytes == [UInt8](try dir.readData("la.raw")))
    }
}
