import Foundation
import FlowFormats
import FlowNumerics
import FlowTestSupport
import Testing
@testable import FlowModels

/// Loss values against Fixtures/losses_reference.py, a NumPy transcription of the DINOv2
/// PyTorch loss code (including its own pair assembly with swapped teacher crops).
@Suite struct LossReferenceTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/losses_reference.py").path

    func close(_ a: Double, _ b: Double, _ tol: Double = 1e-5) -> Bool { abs(a - b) <= tol * max(1, abs(b)) }

    @Test(arguments: [(UInt64(1), 3), (UInt64(2), 0)])
    func matchesNumPy(seed: UInt64, localCrops: Int) throws {
        let python = try Python.require(["numpy"])
        let dir = TemporaryDirectory("loss-ref")
        let b = 3, k = 12, d = 6, temp: Float = 0.05
        var rng = FlowModels.SplitMix64(seed: seed)
        func matrix(_ rows: Int, _ cols: Int, std: Float) -> Matrix {
            try! Matrix(rows: rows, cols: cols, data: rng.normal(count: rows * cols, std: std))
        }
        func save(_ m: Matrix, _ name: String) throws {
            try NPY.write(NPYArray(float32: m.data, shape: [m.rows, m.cols]), to: dir.path + "/" + name)
        }
        let student = matrix((2 + localCrops) * b, k, std: 1)
        let teacher = matrix(2 * b, k, std: 0.3)
        let center = rng.normal(count: k, std: 0.1)
        let cls = matrix(2 * b, d, std: 1)
        var maskRNG = AugmentRNG(seed: seed)
        let masks = MaskGenerator(height: 4, width: 5, minBlockPatches: 2).batch(images: 2 * b, rng: &maskRNG)
        let m = masks.maskedIndices.count
        #expect(m > 0)
        let ibotStudent = matrix(m, k, std: 1), ibotTeacher = matrix(m, k, std: 0.3)
        let ibotCenter = rng.normal(count: k, std: 0.1)
        try save(student, "dino_student.npy"); try save(teacher, "dino_teacher.npy")
        try save(ibotStudent, "ibot_student.npy"); try save(ibotTeacher, "ibot_teacher.npy"); try save(cls, "koleo.npy")
        try NPY.write(NPYArray(float32: center, shape: [k]), to: dir.path + "/center.npy")
        try NPY.write(NPYArray(float32: ibotCenter, shape: [k]), to: dir.path + "/ibot_center.npy")
        try NPY.write(NPYArray(bool: masks.masks, shape: [masks.images, masks.patches]), to: dir.path + "/masks.npy")
        let run = try FlowBinary.runProgram(python, [Self.script, dir.path, "\(temp)"], in: dir.path)
        #expect(run.status == 0, "\(run)")
        guard run.status == 0 else { return }
        let want = try NPY.read(path: dir.path + "/results.npy").float32Values().map(Double.init)

        var centering = TeacherCentering(mode: .centering, prototypes: k)
        centering.center = center
        let centered = try centering.targets(teacher, temperature: temp)
        var skState = TeacherCentering(mode: .sinkhornKnopp, prototypes: k)
        let sinkhorn = try skState.targets(teacher, temperature: temp)
        let wantCentered = try NPY.read(path: dir.path + "/dino_centered_targets.npy").float32Values()
        let wantSK = try NPY.read(path: dir.path + "/dino_sk_targets.npy").float32Values()
        let wantCenter = try NPY.read(path: dir.path + "/center_after.npy").float32Values()
        #expect(zip(centered.data, wantCentered).allSatisfy { abs($0 - $1) < 1e-5 })
        #expect(zip(sinkhorn.data, wantSK).allSatisfy { abs($0 - $1) < 1e-5 })
        #expect(zip(centering.center, wantCenter).allSatisfy { abs($0 - $1) < 1e-6 })

        let dino = DINOLoss()
        #expect(close(Double(try dino.evaluate(student: student, teacher: centered).loss), want[0]), "DINO centering vs \(want[0])")
        #expect(close(Double(try dino.evaluate(student: student, teacher: sinkhorn).loss), want[1]), "DINO Sinkhorn vs \(want[1])")

        var ibotCentering = TeacherCentering(mode: .centering, prototypes: k)
        ibotCentering.center = ibotCenter
        let ibotTargets = try ibotCentering.targets(ibotTeacher, temperature: temp)
        var ibotSKState = TeacherCentering(mode: .sinkhornKnopp, prototypes: k)
        let ibotSK = try ibotSKState.targets(ibotTeacher, temperature: temp)
        let ibot = iBOTPatchLoss()
        let l2 = try ibot.evaluate(student: ibotStudent, teacher: ibotTargets, patchImages: masks.patchImages, images: 2 * b).loss
        let l3 = try ibot.evaluate(student: ibotStudent, teacher: ibotSK, patchImages: masks.patchImages, images: 2 * b).loss
        #expect(close(Double(l2), want[2]), "iBOT centering \(l2) vs \(want[2])")
        #expect(close(Double(l3), want[3]), "iBOT Sinkhorn \(l3) vs \(want[3])")
        let wantIbotCenter = try NPY.read(path: dir.path + "/ibot_center_after.npy").float32Values()
        #expect(zip(ibotCentering.center, wantIbotCenter).allSatisfy { abs($0 - $1) < 1e-6 })

        let ko = try KoLeoLoss().evaluate(cls).loss
        #expect(close(Double(ko), want[4]), "KoLeo \(ko) vs \(want[4])")
    }
}
