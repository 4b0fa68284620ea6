import Foundation
import FlowFormats
import FlowNumerics
import Testing
@testable import FlowModels

@Suite struct LossTests {
    static func random(_ rows: Int, _ cols: Int, std: Float, seed: UInt64) -> Matrix {
        var rng = FlowModels.SplitMix64(seed: seed)
        return try! Matrix(rows: rows, cols: cols, data: rng.normal(count: rows * cols, std: std))
    }

    /// Random probability rows (softmax of random logits).
    static func distributions(_ rows: Int, _ cols: Int, seed: UInt64) -> Matrix {
        TeacherCentering.centeredSoftmax(random(rows, cols, std: 1, seed: seed),
                                         center: [Float](repeating: 0, count: cols), temperature: 0.5)
    }

    func perturbed(_ m: Matrix, _ i: Int, _ d: Float) -> Matrix {
        var m2 = m; m2.data[i] += d; return m2
    }

    // MARK: Sinkhorn-Knopp

    /// Every sample's target sums to 1 (exactly, the last step); prototype totals approach B/K.
    @Test(arguments: [(6, 4), (8, 16), (32, 5)])
    func sinkhornMarginals(b: Int, k: Int) {
        let logits = Self.random(b, k, std: 0.2, seed: UInt64(b * 100 + k))
        for iterations in [3, 200] {
            let q = SinkhornKnopp.targets(logits, temperature: 0.1, iterations: iterations)
            for r in 0..<b {
                let s = (0..<k).map { Double(q[r, $0]) }.reduce(0, +)
                #expect(abs(s - 1) < 1e-5, "sample \(r) sums to \(s)")
            }
            let worst = (0..<k).map { j in abs((0..<b).map { Double(q[$0, j]) }.reduce(0, +) - Double(b) / Double(k)) }.max()!
            // 3 iterations do not converge fully on peaked inputs; many do.
            #expect(worst < (iterations == 3 ? 0.25 : 1e-4) * Double(b) / Double(k), "\(iterations) iterations: prototype total off by \(worst)")
        }
    }

    /// Against the reference's own `sinkhorn_knopp_teacher` (3 iterations, τ = 0.1), stored by
    /// reference/make_fixtures.py. The tolerance, 2e-6, is 30,000 times smaller than the
    /// difference 2 iterations make on these logits (6.5e-2), so one iteration too few or too
    /// many cannot pass.
    @Test func sinkhornEqualsTheReferenceFixture() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path
        let logits = try NPY.read(path: dir + "/sinkhorn_logits.npy"), want = try NPY.read(path: dir + "/sinkhorn_targets.npy")
        let x = try Matrix(rows: logits.shape[0], cols: logits.shape[1], data: try logits.float32Values())
        let expected = try want.float32Values()
        func worst(_ iterations: Int) -> Float {
            zip(SinkhornKnopp.targets(x, temperature: 0.1, iterations: iterations).data, expected).map { abs($0 - $1) }.max()!
        }
        #expect(worst(3) < 2e-6, "3 iterations: off by \(worst(3))")
        #expect(worst(2) > 1e-2 && worst(4) > 1e-3, "the fixture no longer tells 2 or 4 iterations from 3")
    }

    /// The global max shift: logits that would overflow exp(t/τ) still give the shifted result.
    @Test func sinkhornSurvivesLargeLogits() {
        let logits = Self.random(5, 7, std: 1, seed: 3)
        var big = logits
        for i in big.data.indices { big.data[i] += 100 }   // exp(100/0.04) overflows any float
        let a = SinkhornKnopp.targets(logits, temperature: 0.04)
        let b = SinkhornKnopp.targets(big, temperature: 0.04)
        #expect(b.firstNonFiniteRow() == nil)
        #expect(zip(a.data, b.data).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    // MARK: centering

    /// Targets use the centre before this batch; the centre then moves 10% toward the batch mean.
    @Test func centeringUsesThenUpdatesTheCenter() throws {
        var c = TeacherCentering(mode: .centering, prototypes: 3)
        let t = try Matrix([[1, 2, 3], [3, 2, 7]])
        let p = try c.targets(t, temperature: 1)
        let e = [1, 2, 3].map { Foundation.exp(Double($0)) }
        #expect(abs(Double(p[0, 0]) - e[0] / e.reduce(0, +)) < 1e-6)
        #expect(zip(c.center, [Float(0.2), 0.2, 0.5]).allSatisfy { abs($0 - $1) < 1e-6 }, "\(c.center)")
        let p2 = try c.targets(t, temperature: 0.5)
        let row = [1 - 0.2, 2 - 0.2, 3 - 0.5].map { Foundation.exp($0 / 0.5) }
        #expect(abs(Double(p2[0, 2]) - row[2] / row.reduce(0, +)) < 1e-6)
        #expect(abs(c.center[2] - (0.9 * 0.5 + 0.1 * 5)) < 1e-6)
        #expect(throws: ModelError.self) { try c.targets(Matrix(rows: 1, cols: 4), temperature: 1) }
    }

    // MARK: DINO

    /// 2 global + 3 local crops of batch 2: 2·5 − 2 = 8 pairs; gradient by central differences.
    @Test(arguments: [UInt64(1), 2])
    func dinoGradient(seed: UInt64) throws {
        let b = 2, k = 6, crops = 5
        let loss = DINOLoss()
        #expect(loss.pairCount(crops: 10) == 18)
        let s = Self.random(crops * b, k, std: 0.3, seed: seed)
        let t = Self.distributions(2 * b, k, seed: seed + 10)
        let result = try loss.evaluate(student: s, teacher: t)
        let failures = CentralDifferenceCheck().failures(analytic: result.gradient.data) { i, d in
            Double((try? loss.evaluate(student: perturbed(s, i, d), teacher: t).loss) ?? .nan)
        }
        #expect(failures.isEmpty, "\(failures)")
    }

    /// The pair structure by brute force: crop j never meets its own teacher crop.
    @Test func dinoPairsExcludeTheSameCrop() throws {
        let b = 1, k = 3
        let s = Self.random(3 * b, k, std: 1, seed: 4)
        let t = Self.distributions(2 * b, k, seed: 5)
        func ce(_ sr: Int, _ tr: Int) -> Double {
            let x = (0..<k).map { Double(s[sr, $0]) / 0.1 }
            let lse = Foundation.log(x.map { Foundation.exp($0 - x.max()!) }.reduce(0, +)) + x.max()!
            return -(0..<k).map { Double(t[tr, $0]) * (x[$0] - lse) }.reduce(0, +)
        }
        let want = (ce(0, 1) + ce(1, 0) + ce(2, 0) + ce(2, 1)) / 4
        let got = try DINOLoss().evaluate(student: s, teacher: t).loss
        #expect(abs(Double(got) - want) < 1e-5 * max(1, abs(want)))
        #expect(throws: ModelError.self) { try DINOLoss().evaluate(student: s, teacher: Matrix(rows: 2, cols: 4)) }
    }

    // MARK: iBOT

    @Test func ibotGradientAndWeights() throws {
        let k = 5, images = 4
        let patchImages = [0, 0, 0, 2, 3, 3]       // image 1 has no masked patch
        let s = Self.random(6, k, std: 0.3, seed: 21)
        let t = Self.distributions(6, k, seed: 22)
        let loss = iBOTPatchLoss()
        let result = try loss.evaluate(student: s, teacher: t, patchImages: patchImages, images: images)
        let failures = CentralDifferenceCheck().failures(analytic: result.gradient.data) { i, d in
            Double((try? loss.evaluate(student: perturbed(s, i, d), teacher: t, patchImages: patchImages, images: images).loss) ?? .nan)
        }
        #expect(failures.isEmpty, "\(failures)")
        // Brute force: per-patch CE weighted 1/3, 1/3, 1/3, 1, 1/2, 1/2, over 2B = 4 images.
        let weights = [1.0 / 3, 1.0 / 3, 1.0 / 3, 1, 0.5, 0.5]
        var want = 0.0
        for r in 0..<6 {
            let one = try loss.evaluate(student: s.rows([r]), teacher: t.rows([r]), patchImages: [0], images: 1).loss
            want += weights[r] * Double(one)
        }
        #expect(abs(Double(result.loss) - want / 4) < 1e-5)
        #expect(throws: ModelError.self) { try loss.evaluate(student: s, teacher: t, patchImages: [0, 0, 0, 2, 3, 4], images: 4) }
    }

    // MARK: KoLeo

    @Test(arguments: [UInt64(1), 2, 3])
    func koleoGradient(seed: UInt64) throws {
        // Two crops of 5 tokens in 4 dimensions, not normalised (norms vary).
        let x = Self.random(10, 4, std: 1, seed: seed)
        let koleo = KoLeoLoss()
        let result = try koleo.evaluate(x)
        let failures = CentralDifferenceCheck().failures(analytic: result.gradient.data) { i, d in
            Double((try? koleo.evaluate(perturbed(x, i, d)).loss) ?? .nan)
        }
        #expect(failures.isEmpty, "\(failures)")
    }

    /// Planted structure: points spread evenly on a circle have the largest nearest-neighbour
    /// distance, so a lower KoLeo than the same points bunched up; and the value is exact.
    @Test func koleoValueOnACircle() throws {
        let n = 6
        let even = (0..<n).flatMap { i -> [Float] in
            let a = 2 * Double.pi * Double(i) / Double(n)
            return [Float(3 * cos(a)), Float(3 * sin(a))]       // scale is normalised away
        }
        let tokens = try Matrix(rows: 2 * n, cols: 2, data: even + even)
        let got = try KoLeoLoss().evaluate(tokens).loss
        let chord = 2 * sin(Double.pi / Double(n))                 // = 1 for n = 6
        let want = 0.1 * 2 * -Foundation.log(chord + 1e-8)
        #expect(abs(Double(got) - want) < 1e-5, "\(got) vs \(want)")
        var bunched = tokens
        for r in 0..<n { bunched.data[2 * r + 1] *= 0.2 }
        #expect(try KoLeoLoss().evaluate(bunched).loss > got)
        #expect(throws: ModelError.self) { try KoLeoLoss().evaluate(Matrix(rows: 2, cols: 3)) }
    }

    // MARK: assembly

    /// The total is the three terms, each computed as on its own; centres move; state is Codable.
    @Test func assembledObjective() throws {
        let b = 2, k = 8, d = 5
        var loss = DINOv2Loss(mode: .centering, prototypes: k)
        var rng = AugmentRNG(seed: 3)
        let masks = MaskGenerator(height: 4, width: 4, minBlockPatches: 2).batch(images: 2 * b, rng: &rng)
        let m = masks.maskedIndices.count
        let sc = Self.random(4 * b, k, std: 1, seed: 1), tc = Self.random(2 * b, k, std: 1, seed: 2)
        let sp = Self.random(m, k, std: 1, seed: 3), tp = Self.random(m, k, std: 1, seed: 4)
        let tokens = Self.random(2 * b, d, std: 1, seed: 5)
        let r = try loss.evaluate(studentClassLogits: sc, teacherClassLogits: tc, studentPatchLogits: sp,
                                  teacherPatchLogits: tp, masks: masks, studentClassTokens: tokens, teacherTemperature: 0.04)
        var centering = TeacherCentering(mode: .centering, prototypes: k)
        let dino = try DINOLoss().evaluate(student: sc, teacher: centering.targets(tc, temperature: 0.04))
        #expect(r.dino == dino.loss && r.studentClassLogits == dino.gradient)
        #expect(loss.dinoTargets.center == centering.center && loss.ibotTargets.center != centering.center)
        #expect(r.koleo == (try KoLeoLoss().evaluate(tokens)).loss)
        #expect(r.ibot > 0 && abs(r.total - (r.dino + r.ibot + r.koleo)) < 1e-6)
        #expect(r.studentPatchLogits.rows == m && r.studentClassTokens.rows == 2 * b)
        #expect(throws: ModelError.self) {
            try loss.evaluate(studentClassLogits: sc, teacherClassLogits: tc, studentPatchLogits: sp, teacherPatchLogits: tp,
                              masks: MaskBatch.allPatches(images: 1, patches: 16), studentClassTokens: tokens, teacherTemperature: 0.04)
        }
    }
}
