import Foundation
import Testing
@testable import FlowModels

/// Central finite differences against analytic gradients.
///
/// The forward passes run in Float, so each check perturbs along a random direction v (all
/// coordinates at once, so the change in the loss is well above rounding) and along a few single
/// coordinates, and compares (f(θ+εv) − f(θ−εv)) / 2ε with g·v. The loss is Σ w ⊙ output with
/// fixed random w, summed in Double.
enum GradientCheck {
    static func random(_ count: Int, _ rng: inout SplitMix64, scale: Float = 1) -> [Float] {
        (0..<count).map { _ in Float(rng.standardNormal()) * scale }
    }

    /// Σ w ⊙ y in Double.
    static func weightedSum(_ y: [Float], _ w: [Float]) -> Double {
        var s = 0.0
        for i in y.indices { s += Double(y[i]) * Double(w[i]) }
        return s
    }

    /// The largest error of the check, relative to the size of the analytic directional
    /// derivative (and to Σ|g·v| for a scale when g·v cancels), over one random direction and
    /// `coordinates` single coordinates.
    static func error(values: [Float], analytic: [Float], eps: Float = 1e-2, coordinates: Int = 3,
                      seed: UInt64 = 99, _ f: ([Float]) -> Double) -> Double {
        precondition(values.count == analytic.count, "gradient of another size")
        var rng = SplitMix64(seed: seed)
        var directions: [[Float]] = [random(values.count, &rng)]
        for _ in 0..<coordinates where !values.isEmpty {
            var v = [Float](repeating: 0, count: values.count)
            v[Int(rng.next() % UInt64(values.count))] = 1
            directions.append(v)
        }
        let f0 = abs(f(values))
        // Rounding noise of a Float forward seen through a difference quotient (generous).
        let noise = 1e-6 * (1 + f0) / Double(eps)
        var worst = 0.0
        for v in directions {
            func quotient(_ h: Float) -> Double {
                var plus = values, minus = values
                for i in values.indices {
                    plus[i] += h * v[i]
                    minus[i] -= h * v[i]
                }
                return (f(plus) - f(minus)) / (2 * Double(h))
            }
            // Richardson extrapolation of two central differences: error O(ε⁴) instead of O(ε²).
            let numeric = (4 * quotient(eps / 2) - quotient(eps)) / 3
            var exact = 0.0, scale = 0.0
            for i in values.indices {
                exact += Double(analytic[i]) * Double(v[i])
                scale += abs(Double(analytic[i]) * Double(v[i]))
            }
            // The noise allowance keeps exactly-zero gradients (e.g. of the key bias, to which
            // softmax is invariant) from comparing rounding noise with zero.
            let err = max(0, abs(numeric - exact) - noise) / max(abs(exact), 1e-2 * scale, 1e-12)
            if ProcessInfo.processInfo.environment["GRADCHECK_VERBOSE"] != nil {
                print("gradcheck numeric \(numeric) analytic \(exact) error \(err)")
            }
            worst = max(worst, err)
        }
        return worst
    }
}

@Suite struct GradientCheckTests {
    /// The checker itself must reject a wrong gradient: y = x², gradient scaled by 1.05 or flipped.
    @Test func rejectsWrongGradients() {
        var rng = SplitMix64(seed: 1)
        let x = GradientCheck.random(20, &rng)
        let w = GradientCheck.random(20, &rng)
        let f: ([Float]) -> Double = { v in GradientCheck.weightedSum(v.map { $0 * $0 }, w) }
        let right = (0..<20).map { 2 * x[$0] * w[$0] }
        #expect(GradientCheck.error(values: x, analytic: right, f) < 1e-3)
        #expect(GradientCheck.error(values: x, analytic: right.map { $0 * 1.05 }, f) > 0.03)
        #expect(GradientCheck.error(values: x, analytic: right.map { -$0 }, f) > 1)
    }
}
