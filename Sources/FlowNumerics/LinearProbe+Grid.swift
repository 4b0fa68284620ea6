// Learning-rate selection for the linear probe: train one classifier per learning rate on
// part of the training set, pick the best on the held-out rest, retrain it on all of the
// training set, and report that one classifier on the validation set.
//
// DINOv2 trains its grid together and reports the best classifier *on val*; selecting on a
// held-out part of train instead keeps the reported val accuracy an unbiased estimate.

/// One learning rate of the grid and how its classifier did on the held-out rows.
public struct LinearProbeTrial: Equatable, Sendable {
    /// The learning rate as used (already scaled by the caller, e.g. × batch / 256).
    public var learningRate: Float
    /// nil when there are no held-out rows (a single learning rate needs none).
    public var holdout: LinearScore?
    /// False when training diverged (NaN weights); such a trial is never chosen.
    public var finite: Bool
}

/// The outcome of a linear-probe evaluation.
public struct LinearProbeResult: Sendable {
    public var trials: [LinearProbeTrial]
    /// Index into `trials` of the chosen learning rate.
    public var chosen: Int
    /// Train rows used to fit the grid and held out to choose from it.
    public var fitCount: Int
    public var holdoutCount: Int
    public var classes: Int
    /// The chosen learning rate retrained on every train row.
    public var classifier: LinearClassifier
    /// That classifier on the whole training set and on the validation set.
    public var train: LinearScore
    public var val: LinearScore

    public var chosenLearningRate: Float { trials[chosen].learningRate }
}

extension LinearProbe {
    /// Splits 0..<count into (fit, holdout) by a seeded permutation: round(count · fraction)
    /// rows are held out (at least 1 when fraction > 0 and count ≥ 2, never all). Both lists
    /// are sorted.
    public static func holdoutSplit(count: Int, fraction: Double, seed: UInt64) -> (fit: [Int], holdout: [Int]) {
        var h = Int((Double(count) * fraction).rounded())
        if fraction > 0 && count >= 2 { h = max(h, 1) }
        h = min(h, max(0, count - 1))
        var rng = SplitMix64(seed: seed ^ 0x686F_6C64_6F75_7421)  // "holdout!": independent of training draws
        var order = Array(0..<count)
        order.shuffle(using: &rng)
        return (Array(order[h...]).sorted(), Array(order[..<h]).sorted())
    }

    /// Trains one classifier per learning rate on the fit part of train, chooses the best on
    /// the held-out part (highest top-1; ties: lower held-out loss, then the earlier rate),
    /// retrains it on all of train and scores it on val.
    ///
    /// `settings.learningRate` is ignored (each rate of `learningRates` replaces it).
    /// Throws when the grid is empty, when more than one rate must be compared but nothing is
    /// held out, when every rate diverged, or on bad shapes or labels.
    public static func evaluate(train: Matrix, trainLabels: [Int], val: Matrix, valLabels: [Int],
                                learningRates: [Float], holdout fraction: Double,
                                settings: LinearProbeSettings) throws -> LinearProbeResult {
        try train.validate("train features")
        try val.validate("val features")
        guard val.cols == train.cols else {
            throw NumericsError("train features have dimension \(train.cols) but val features have \(val.cols)")
        }
        guard valLabels.count == val.rows else { throw NumericsError("\(val.rows) val rows but \(valLabels.count) val labels") }
        guard trainLabels.count == train.rows else {
            throw NumericsError("\(train.rows) train rows but \(trainLabels.count) train labels")
        }
        guard !learningRates.isEmpty else { throw NumericsError("the learning-rate grid is empty") }
        guard fraction >= 0 && fraction < 1 else { throw NumericsError("the holdout fraction must be in [0, 1), got \(fraction)") }
        if let i = (trainLabels + valLabels).firstIndex(where: { $0 < 0 }) {
            throw NumericsError("label \(i) is negative: labels are class indices 0, 1, ...")
        }
        let classes = max(trainLabels.max() ?? 0, valLabels.max() ?? 0) + 1
        let (fit, held) = holdoutSplit(count: train.rows, fraction: fraction, seed: settings.seed)
        if learningRates.count > 1 && held.isEmpty {
            throw NumericsError("\(learningRates.count) learning rates to compare but no held-out train rows: raise the holdout fraction or give one rate")
        }
        let fitX = train.rows(fit), fitY = fit.map { trainLabels[$0] }
        let heldX = train.rows(held), heldY = held.map { trainLabels[$0] }
        var trials: [LinearProbeTrial] = []
        for lr in learningRates {
            var s = settings
            s.learningRate = lr
            let model = try LinearProbe.train(features: fitX, labels: fitY, classes: classes, settings: s)
            let finite = model.isFinite
            trials.append(LinearProbeTrial(learningRate: lr, holdout: held.isEmpty || !finite ? nil : model.score(heldX, labels: heldY),
                                           finite: finite))
        }
        var chosen: Int? = nil
        for (i, t) in trials.enumerated() where t.finite {
            guard let c = chosen else { chosen = i; continue }
            if better(t.holdout, than: trials[c].holdout) { chosen = i }
        }
        guard let chosen else {
            throw NumericsError("training diverged at every learning rate (\(learningRates)): use smaller rates")
        }
        var s = settings
        s.learningRate = trials[chosen].learningRate
        let final = try LinearProbe.train(features: train, labels: trainLabels, classes: classes, settings: s)
        guard final.isFinite else {
            throw NumericsError("retraining on all of train diverged at learning rate \(s.learningRate): use smaller rates")
        }
        return LinearProbeResult(trials: trials, chosen: chosen, fitCount: fit.count, holdoutCount: held.count,
                                 classes: classes, classifier: final, train: final.score(train, labels: trainLabels),
                                 val: final.score(val, labels: valLabels))
    }

    private static func better(_ a: LinearScore?, than b: LinearScore?) -> Bool {
        guard let a, let b else { return false }
        if a.correctTop1 != b.correctTop1 { return a.correctTop1 > b.correctTop1 }
        return a.meanLoss < b.meanLoss
    }
}
