import Foundation
import FlowFormats

/// The procedural image set behind `flow op synth-images`.
///
/// Image `index` depends only on (seed, index, classes, size): it is drawn from its own
/// `AugmentRNG(seed: seed, index: index)`, so images can be rendered in any order or in
/// parallel and the output is the same. Its class is `index % classes`.
struct SynthImages {
    var classes: Int
    var size: Int
    var seed: UInt64

    /// What was drawn for one image (written to the sample's .json).
    struct Params {
        var shape: SynthShape
        var centerX: Double, centerY: Double, radius: Double, rotation: Double
        var color: [Double], background: [Double]
        var clutter: Int
        var noise: Double
    }

    func render(_ index: Int) -> (ImageTensor, Params) {
        var rng = AugmentRNG(seed: seed, index: UInt64(index))
        let shape = SynthShape.allCases[index % classes]
        let s = Double(size)
        let plane = size * size
        var img = ImageTensor(channels: 3, height: size, width: size)

        // Background: a random colour with a gentle linear gradient in a random direction.
        let bg = (0..<3).map { _ in rng.uniform(0.05, 0.95) }
        let bg2 = bg.map { min(max($0 + rng.uniform(-0.25, 0.25), 0), 1) }
        let gAngle = rng.uniform(0, 2 * .pi)
        let (gx, gy) = (cos(gAngle), sin(gAngle))
        img.data.withUnsafeMutableBufferPointer { d in
            for y in 0..<size {
                for x in 0..<size {
                    let t = 0.5 + 0.5 * ((Double(x) / s - 0.5) * gx + (Double(y) / s - 0.5) * gy) * 1.4
                    for c in 0..<3 { d[c * plane + y * size + x] = Float(bg[c] + (bg2[c] - bg[c]) * t) }
                }
            }
        }

        // Clutter: short thick strokes of random colours.
        let clutter = rng.int(below: 5)
        for _ in 0..<clutter {
            let color = (0..<3).map { _ in rng.uniform(0, 1) }
            let (x0, y0) = (rng.uniform(0, s), rng.uniform(0, s))
            let a = rng.uniform(0, 2 * .pi), len = rng.uniform(0.1, 0.3) * s, half = max(0.6, s * rng.uniform(0.01, 0.03))
            let (dx, dy) = (cos(a), sin(a))
            paint(&img, color: color, box: (x0 - len, y0 - len, x0 + len, y0 + len)) { px, py in
                let (qx, qy) = (px - x0, py - y0)
                let along = qx * dx + qy * dy
                return along >= 0 && along <= len && abs(qx * dy - qy * dx) <= half
            }
        }

        // The shape: a colour well away from the background, random place, size and angle.
        var color = (0..<3).map { _ in rng.uniform(0, 1) }
        for _ in 0..<8 where zip(color, bg).map({ ($0 - $1) * ($0 - $1) }).reduce(0, +) < 0.16 {
            color = (0..<3).map { _ in rng.uniform(0, 1) }
        }
        let radius = rng.uniform(0.28, 0.46) * s
        let cx = rng.uniform(radius * 0.8, s - radius * 0.8), cy = rng.uniform(radius * 0.8, s - radius * 0.8)
        let rotation = rng.uniform(0, 2 * .pi)
        let (cr, sr) = (cos(rotation), sin(rotation))
        paint(&img, color: color, box: (cx - radius, cy - radius, cx + radius, cy + radius)) { px, py in
            let (qx, qy) = ((px - cx) / radius, (py - cy) / radius)
            return shape.contains(qx * cr + qy * sr, -qx * sr + qy * cr)
        }

        // Pixel noise of a random strength.
        let noise = rng.uniform(0, 0.08)
        if noise > 0 {
            for i in img.data.indices {
                img.data[i] = min(max(img.data[i] + Float(noise * (rng.uniform() * 2 - 1)), 0), 1)
            }
        }
        let params = Params(shape: shape, centerX: cx, centerY: cy, radius: radius, rotation: rotation,
                            color: color, background: bg, clutter: clutter, noise: noise)
        return (img, params)
    }

    /// Blends `color` over the pixels of `box` (x0, y0, x1, y1) by the 2x2-supersampled
    /// coverage of `inside` (called with pixel-space coordinates).
    private func paint(_ img: inout ImageTensor, color: [Double], box: (Double, Double, Double, Double),
                       inside: (Double, Double) -> Bool) {
        let x0 = max(0, Int(box.0.rounded(.down))), x1 = min(size - 1, Int(box.2.rounded(.up)))
        let y0 = max(0, Int(box.1.rounded(.down))), y1 = min(size - 1, Int(box.3.rounded(.up)))
        guard x0 <= x1, y0 <= y1 else { return }
        let plane = size * size
        for y in y0...y1 {
            for x in x0...x1 {
                var hits = 0
                for sy in [0.25, 0.75] { for sx in [0.25, 0.75] where inside(Double(x) + sx, Double(y) + sy) { hits += 1 } }
                if hits == 0 { continue }
                let w = Float(hits) / 4
                for c in 0..<3 {
                    let i = c * plane + y * size + x
                    img.data[i] = img.data[i] * (1 - w) + Float(color[c]) * w
                }
            }
        }
    }
}

extension SynthImages.Params {
    /// The sample's .json: the class and every nuisance drawn, keys in a fixed order.
    func json(index: Int) -> String {
        func f(_ x: Double) -> String { String(format: "%.4f", x) }
        func rgb(_ c: [Double]) -> String { "[" + c.map(f).joined(separator: ", ") + "]" }
        return "{\"class\": \"\(shape.name)\", \"class_index\": \(shape.rawValue), \"index\": \(index), "
            + "\"center\": [\(f(centerX)), \(f(centerY))], \"radius\": \(f(radius)), "
            + "\"rotation_degrees\": \(f(rotation * 180 / .pi)), \"color\": \(rgb(color)), "
            + "\"background\": \(rgb(background)), \"clutter\": \(clutter), \"noise\": \(f(noise))}\n"
    }
}
