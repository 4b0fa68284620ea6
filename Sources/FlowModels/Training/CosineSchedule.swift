#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// DINOv2's `CosineScheduler` (dinov2/utils/utils.py), evaluated per iteration instead of
/// materialised as an array (same values).
///
/// Iterations `0..<freeze` are 0; the next `warmup` are `linspace(start, base, warmup)` (endpoint
/// included, so the last warmup iteration is `base`); the remaining n = total − warmup − freeze
/// follow `final + ½(base − final)(1 + cos(π·i/n))`, i = 0..<n; from `total` on, `final`.
public struct CosineSchedule: Equatable, Sendable {
    public var base: Double
    public var final: Double
    public var total: Int
    public var warmup: Int
    public var start: Double
    public var freeze: Int
    /// Iterations forced to 0 without shifting the rest (dinov2 zeroes the start of a copy of
    /// the lr schedule for `last_layer`); 0 = none.
    public var zeroed: Int = 0

    public init(base: Double, final: Double, total: Int, warmup: Int = 0, start: Double = 0, freeze: Int = 0) {
        self.base = base
        self.final = final
        self.total = max(0, total)
        self.warmup = max(0, warmup)
        self.start = start
        self.freeze = max(0, freeze)
    }

    /// The value at `iteration` (0-based).
    public func callAsFunction(_ iteration: Int) -> Double { value(at: iteration) }

    public func value(at iteration: Int) -> Double {
        if iteration < zeroed { return 0 }
        if iteration >= total { return final }
        if iteration < freeze { return 0 }
        let i = iteration - freeze
        if i < warmup {
            // np.linspace(start, base, warmup)
            return warmup == 1 ? start : start + Double(i) * (base - start) / Double(warmup - 1)
        }
        let n = total - warmup - freeze
        let j = i - warmup
        return final + 0.5 * (base - final) * (1 + cos(Double.pi * Double(j) / Double(n)))
    }
}

/// The schedules of a DINOv2 run, indexed by iteration (dinov2/train/train.py `build_schedulers`).
///
/// Defaults follow the vitl14 config (wd 0.04→0.2, teacher momentum 0.994→1, teacher temperature
/// 0.04→0.07 warmup, min lr 1e-6); for a short CPU run give the lengths as fractions of the
/// total iterations (dinov2-spec §8).
public struct TrainingSchedules: Equatable, Sendable {
    public var learningRate: CosineSchedule
    /// The learning rate of heads' `last_layer`: `learningRate`, 0 during the first `freezeLastLayer` iterations.
    public var lastLayerLearningRate: CosineSchedule
    public var weightDecay: CosineSchedule
    public var teacherMomentum: CosineSchedule
    public var teacherTemperature: CosineSchedule

    /// - Parameters:
    ///   - iterations: total iterations (epochs × epoch length).
    ///   - lr: peak learning rate (after warmup; DINOv2 scales a base lr by √(batch/1024)).
    ///   - warmup: lr warmup iterations (from 0).
    ///   - freezeLastLayer: iterations with `last_layer` frozen (one epoch in DINOv2).
    ///   - teacherTemperatureWarmup: iterations of the 0.04→0.07 ramp (30 epochs in DINOv2).
    public init(iterations: Int, lr: Double, minLR: Double = 1e-6, warmup: Int,
                weightDecay: (start: Double, end: Double) = (0.04, 0.2),
                teacherMomentum: (start: Double, end: Double) = (0.994, 1.0),
                teacherTemperature: (start: Double, end: Double) = (0.04, 0.07),
                teacherTemperatureWarmup: Int, freezeLastLayer: Int) {
        learningRate = CosineSchedule(base: lr, final: minLR, total: iterations, warmup: warmup)
        // dinov2 zeroes the first iterations of a copy of the lr schedule.
        lastLayerLearningRate = learningRate
        lastLayerLearningRate.zeroed = freezeLastLayer
        self.weightDecay = CosineSchedule(base: weightDecay.start, final: weightDecay.end, total: iterations)
        self.teacherMomentum = CosineSchedule(base: teacherMomentum.start, final: teacherMomentum.end, total: iterations)
        self.teacherTemperature = CosineSchedule(base: teacherTemperature.end, final: teacherTemperature.end,
                                                 total: teacherTemperatureWarmup, warmup: teacherTemperatureWarmup,
                                                 start: teacherTemperature.start)
    }
}

/// Every schedule's value at one iteration, as the optimizer and the loss take them.
public struct ScheduleValues: Equatable, Sendable {
    public var learningRate: Float
    public var lastLayerLearningRate: Float
    public var weightDecay: Float
    public var teacherMomentum: Float
    public var teacherTemperature: Float
}

extension TrainingSchedules {
    /// The values at `iteration` (0-based).
    public func values(at iteration: Int) -> ScheduleValues {
        ScheduleValues(learningRate: Float(learningRate(iteration)),
                       lastLayerLearningRate: Float(lastLayerLearningRate(iteration)),
                       weightDecay: Float(weightDecay(iteration)),
                       teacherMomentum: Float(teacherMomentum(iteration)),
                       teacherTemperature: Float(teacherTemperature(iteration)))
    }
}
