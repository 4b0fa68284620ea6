import Foundation
import FlowTestSupport
import Testing
@testable import FlowModels

/// CosineSchedule and the DINOv2 schedules: endpoints, and every value against NumPy running
/// dinov2's CosineScheduler code.
@Suite struct ScheduleTests {
    @Test func cosineEndpoints() {
        let s = CosineSchedule(base: 0.004, final: 1e-6, total: 100, warmup: 10)
        #expect(s(0) == 0)                                  // linspace starts at start_warmup_value
        #expect(abs(s(9) - 0.004) < 1e-15)                  // linspace includes its endpoint
        #expect(abs(s(10) - 0.004) < 1e-15)                 // cosine at i = 0 is base
        #expect(abs(s(55) - (1e-6 + 0.5 * (0.004 - 1e-6))) < 1e-12)  // halfway down the cosine
        #expect(s(99) > 1e-6 && s(99) < 1e-5)
        #expect(s(100) == 1e-6 && s(10_000) == 1e-6)         // past the end: final
        // Monotone: up during warmup, down after.
        #expect((1..<10).allSatisfy { s($0) > s($0 - 1) })
        #expect((11..<100).allSatisfy { s($0) <= s($0 - 1) })
    }

    @Test func dinov2Schedules() {
        let s = TrainingSchedules(iterations: 1000, lr: 1e-3, warmup: 100, teacherTemperatureWarmup: 300,
                                  freezeLastLayer: 50)
        #expect(abs(s.weightDecay(0) - 0.04) < 1e-12 && s.weightDecay(1000) == 0.2)
        #expect(s.weightDecay(500) > 0.04 && s.weightDecay(500) < 0.2)
        #expect(abs(s.teacherMomentum(0) - 0.994) < 1e-12 && s.teacherMomentum(1000) == 1)
        #expect(abs(s.teacherTemperature(0) - 0.04) < 1e-12)
        #expect(abs(s.teacherTemperature(299) - 0.07) < 1e-12 && s.teacherTemperature(300) == 0.07)
        #expect(s.teacherTemperature(999) == 0.07)
        #expect((0..<50).allSatisfy { s.lastLayerLearningRate($0) == 0 })
        #expect((50..<1000).allSatisfy { s.lastLayerLearningRate($0) == s.learningRate($0) })
        #expect(s.learningRate(0) == 0 && abs(s.learningRate(99) - 1e-3) < 1e-15)
        let v = s.values(at: 10)
        #expect(v.lastLayerLearningRate == 0 && v.learningRate == Float(s.learningRate(10)))
        #expect(v.teacherTemperature == Float(s.teacherTemperature(10)) && v.weightDecay == Float(s.weightDecay(10)))
    }

    /// dinov2/utils/utils.py CosineScheduler, run by NumPy, including freeze iterations.
    @Test func matchesNumPyCosineScheduler() throws {
        let python = try Python.require(["numpy"])
        let cases: [(base: Double, final: Double, total: Int, warmup: Int, start: Double, freeze: Int)] = [
            (0.004, 1e-6, 50, 7, 0, 0), (0.04, 0.2, 33, 0, 0, 0), (0.07, 0.07, 20, 20, 0.04, 0),
            (0.994, 1.0, 40, 0, 0, 0), (1e-3, 1e-6, 30, 5, 1e-4, 4), (2.0, 0.5, 9, 1, 0, 0),
        ]
        let script = """
        import sys, numpy as np
        base, final, total, warmup, start, freeze = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
        freeze_schedule = np.zeros((freeze))
        warmup_schedule = np.linspace(start, base, warmup)
        iters = np.arange(total - warmup - freeze)
        schedule = final + 0.5 * (base - final) * (1 + np.cos(np.pi * iters / len(iters)))
        schedule = np.concatenate((freeze_schedule, warmup_schedule, schedule))
        assert len(schedule) == total
        print(" ".join(repr(float(v)) for v in schedule))
        """
        let dir = TemporaryDirectory()
        for c in cases {
            let r = try Python.run(python, script: script, in: dir.path,
                                   args: ["\(c.base)", "\(c.final)", String(c.total), String(c.warmup), "\(c.start)", String(c.freeze)])
            #expect(r.status == 0, "\(r.stderr)")
            let want = r.stdout.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            let s = CosineSchedule(base: c.base, final: c.final, total: c.total, warmup: c.warmup, start: c.start, freeze: c.freeze)
            #expect(want.count == c.total)
            for (i, w) in want.enumerated() {
                #expect(abs(s(i) - w) <= 1e-12 * max(1, abs(w)), "case \(c) iteration \(i)")
            }
        }
    }
}
