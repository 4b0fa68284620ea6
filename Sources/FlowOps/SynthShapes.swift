import Foundation

/// The classes of `flow op synth-images`: shapes and textures, each a coverage test in the
/// shape's own frame, where the shape fits in the unit disc (u, v in [-1, 1]).
///
/// The class is the structure only: colour, position, size, rotation, background, clutter
/// and noise are drawn independently of it, so raw pixels say little about the class.
enum SynthShape: Int, CaseIterable {
    case circle, square, triangle, ring, plus, stripes, checkerboard, concentric,
         dots, flower, hexagon, frame, waves, halfDisc, ellipse, tee

    var name: String {
        switch self {
        case .circle: return "circle"
        case .square: return "square"
        case .triangle: return "triangle"
        case .ring: return "ring"
        case .plus: return "plus"
        case .stripes: return "stripes"
        case .checkerboard: return "checkerboard"
        case .concentric: return "concentric-rings"
        case .dots: return "dot-grid"
        case .flower: return "flower"
        case .hexagon: return "hexagon"
        case .frame: return "square-frame"
        case .waves: return "waves"
        case .halfDisc: return "half-disc"
        case .ellipse: return "ellipse"
        case .tee: return "tee"
        }
    }

    /// Whether the point (u, v) of the shape's frame is inside the shape.
    func contains(_ u: Double, _ v: Double) -> Bool {
        let r2 = u * u + v * v
        let au = abs(u), av = abs(v)
        func frac(_ x: Double) -> Double { x - x.rounded(.down) }
        switch self {
        case .circle: return r2 <= 0.8
        case .square: return max(au, av) <= 0.7
        case .triangle: return v >= -0.5 && 3.0.squareRoot() * au + v <= 1
        case .ring: return r2 <= 1 && r2 >= 0.36
        case .plus: return (au <= 0.28 && av <= 0.95) || (av <= 0.28 && au <= 0.95)
        case .stripes: return r2 <= 1 && frac(u * 2.5) < 0.5
        case .checkerboard: return r2 <= 1 && (Int((u * 2.2 + 10).rounded(.down)) + Int((v * 2.2 + 10).rounded(.down))) % 2 == 0
        case .concentric: return r2 <= 1 && frac(r2.squareRoot() * 3) < 0.5
        case .dots:
            let du = frac(u * 2 + 0.5) - 0.5, dv = frac(v * 2 + 0.5) - 0.5
            return r2 <= 1 && du * du + dv * dv <= 0.06
        case .flower: return r2.squareRoot() <= 0.55 + 0.4 * cos(5 * atan2(v, u))
        case .hexagon: return av <= 0.8 && 0.8 * au + 0.46 * av <= 0.8
        case .frame: return max(au, av) <= 0.8 && max(au, av) >= 0.5
        case .waves: return r2 <= 1 && frac(v * 2.2 + 0.3 * sin(u * 7)) < 0.5
        case .halfDisc: return r2 <= 0.9 && v >= 0
        case .ellipse: return u * u + (v / 0.42) * (v / 0.42) <= 0.95
        case .tee: return (au <= 0.8 && v >= 0.4 && v <= 0.8) || (au <= 0.22 && v >= -0.85 && v <= 0.8)
        }
    }
}
