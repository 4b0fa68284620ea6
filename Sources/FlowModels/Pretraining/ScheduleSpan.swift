/// The length of a schedule phase (lr warmup, last-layer freeze, teacher-temperature ramp).
///
/// DINOv2's configs give these in epochs of a 100- or 500-epoch run of ImageNet-sized data, so
/// they are fixed fractions of the run (10 of 100 epochs of warmup is 10 %). A run of a few
/// epochs of a small data set keeps those proportions with `.fraction`; `.epochs` counts epochs of
/// the run's own data set instead (the only form before fractions existed).
public enum ScheduleSpan: Equatable, Sendable, CustomStringConvertible {
    /// A fraction of the run's total iterations, in [0, 1].
    case fraction(Double)
    /// Epochs of the run's data set (fractions of an epoch allowed).
    case epochs(Double)

    /// Iterations of a run of `total` iterations with `stepsPerEpoch` steps per epoch, rounded
    /// to the nearest (halves away from 0). An epoch span may be longer than the run.
    public func iterations(total: Int, stepsPerEpoch: Int) -> Int {
        switch self {
        case .fraction(let f): return Int((f * Double(total)).rounded())
        case .epochs(let e): return Int((e * Double(stepsPerEpoch)).rounded())
        }
    }

    /// "0.1 of the run" or "3 epochs": the form stored in checkpoint settings.
    public var description: String {
        switch self {
        case .fraction(let f): return "\(f) of the run"
        case .epochs(let e): return "\(e) epochs"
        }
    }

    var isValid: Bool {
        switch self {
        case .fraction(let f): return f.isFinite && (0...1).contains(f)
        case .epochs(let e): return e.isFinite && e >= 0
        }
    }
}
