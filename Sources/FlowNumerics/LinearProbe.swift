// A linear classifier on frozen features, trained as in DINOv2's linear evaluation
// (dinov2/eval/linear.py): SGD with momentum 0.9, weight decay 0, a cosine learning-rate
// schedule to 0, weights N(0, 0.01), bias 0, softmax cross-entropy.
import Foundation

/// A linear classifier: logits = x · Wᵀ + b.
public struct LinearClassifier: Equatable, Sendable {
    /// [classes, dim].
    public var weights: Matrix
    /// [classes].
    public var bias: [Float]

    public var classes: Int { weights.rows }
    public var dim: Int { weights.cols }

    /// False when training diverged (a NaN or infinite weight or bias).
    public var isFinite: Bool { weights.firstNonFiniteRow() == nil && bias.allSatisfy(\.isFinite) }

    /// Logits [N, classes] of the rows of `x` ([N, dim]).
    public func logits(_ x: Matrix) -> Matrix {
        precondition(x.cols == dim, "LinearClassifier: features have \(x.cols) columns, the classifier \(dim)")
        var out = Matrix(rows: x.rows, cols: classes)
        for r in 0..<x.rows { for c in 0..<classes { out.data[r * classes + c] = bias[c] } }
        gemm(.none, .transpose, x, weights, beta: 1, into: &out)  // [N, D] · [D, C]
        return out
    }

    /// Correct top-1 (and top-5, when there are more than 5 classes) predictions and the mean
    /// cross-entropy on `x` with `labels`. Argmax ties go to the lower class index.
    public func score(_ x: Matrix, labels: [Int]) -> LinearScore {
        let z = logits(x)
        var top1 = 0, top5 = 0
        var loss = 0.0
        for r in 0..<x.rows {
            let row = Array(z.data[(r * classes)..<((r + 1) * classes)])
            let ranked = KNNClassifier.rankClasses(row, limit: 5)
            if ranked[0] == labels[r] { top1 += 1 }
            if ranked.contains(labels[r]) { top5 += 1 }
            let m = Double(row.max() ?? 0)
            let lse = m + log(row.reduce(0.0) { $0 + exp(Double($1) - m) })
            loss += lse - Double(row[labels[r]])
        }
        return LinearScore(correctTop1: top1, correctTop5: classes > 5 ? top5 : nil, total: x.rows,
                           meanLoss: x.rows > 0 ? loss / Double(x.rows) : 0)
    }
}

/// Accuracy counts and mean cross-entropy of a classifier on a labelled set.
public struct LinearScore: Equatable, Sendable {
    public var correctTop1: Int
    /// nil when there are 5 classes or fewer.
    public var correctTop5: Int?
    public var total: Int
    public var meanLoss: Double

    public var top1: Double { total > 0 ? Double(correctTop1) / Double(total) : 0 }
    public var top5: Double? { correctTop5.map { total > 0 ? Double($0) / Double(total) : 0 } }
}

/// Training settings of one linear classifier.
public struct LinearProbeSettings: Equatable, Sendable {
    /// Peak learning rate (reached at step 0, then cosine to 0 at the last step).
    public var learningRate: Float
    /// SGD steps in all (DINOv2: 12,500).
    public var iterations: Int
    /// Rows per step (DINOv2: 128 per GPU); clamped to the training set size.
    public var batchSize: Int
    public var momentum: Float = 0.9
    public var weightDecay: Float = 0
    /// Seeds the weight initialisation and the sampling order.
    public var seed: UInt64

    public init(learningRate: Float, iterations: Int = 1000, batchSize: Int = 128, seed: UInt64 = 0) {
        self.learningRate = learningRate
        self.iterations = iterations
        self.batchSize = batchSize
        self.seed = seed
    }
}

/// Trains linear classifiers on frozen features.
public enum LinearProbe {
    /// Trains a `classes`-way classifier on `features` [N, D] with `labels` (0..<classes).
    ///
    /// Each epoch visits the rows in a fresh seeded permutation; a step takes the next
    /// `batchSize` rows (reshuffling when fewer remain). Momentum follows PyTorch's SGD:
    /// v ← μ·v + g, w ← w − lr_t·v, with lr_t = lr · ½(1 + cos(π t / T)).
    /// Deterministic for a given seed and BLAS thread count.
    public static func train(features: Matrix, labels: [Int], classes: Int,
                             settings s: LinearProbeSettings) throws -> LinearClassifier {
        try features.validate("train features")
        guard labels.count == features.rows else {
            throw NumericsError("\(features.rows) feature rows but \(labels.count) labels")
        }
        guard classes >= 1 else { throw NumericsError("a classifier needs at least one class") }
        if let i = labels.firstIndex(where: { $0 < 0 || $0 >= classes }) {
            throw NumericsError("label \(i) is \(labels[i]), outside the classes 0..<\(classes)")
        }
        guard s.iterations >= 1, s.batchSize >= 1 else {
            throw NumericsError("iterations (\(s.iterations)) and batch size (\(s.batchSize)) must be at least 1")
        }
        guard s.learningRate > 0, s.learningRate.isFinite else {
            throw NumericsError("the learning rate must be positive, got \(s.learningRate)")
        }
        let n = features.rows, d = features.cols, c = classes
        let b = min(s.batchSize, n)
        var rng = SplitMix64(seed: s.seed)
        var model = LinearClassifier(weights: Matrix(rows: c, cols: d), bias: [Float](repeating: 0, count: c))
        for i in model.weights.data.indices { model.weights.data[i] = 0.01 * gaussian(&rng) }
        var velocityW = Matrix(rows: c, cols: d)
        var velocityB = [Float](repeating: 0, count: c)
        var gradW = Matrix(rows: c, cols: d)
        var order = Array(0..<n)
        var cursor = n  // forces a shuffle before the first step
        var batch = [Int](repeating: 0, count: b)
        for t in 0..<s.iterations {
            if cursor + b > n { order.shuffle(using: &rng); cursor = 0 }
            for j in 0..<b { batch[j] = order[cursor + j] }
            cursor += b
            let x = features.rows(batch)                    // [B, D]
            var g = model.logits(x)                          // [B, C] logits, then dLoss/dlogits
            for r in 0..<b {
                let base = r * c
                var m = -Float.infinity
                for j in 0..<c { m = max(m, g.data[base + j]) }
                var z: Float = 0
                for j in 0..<c { let e = expf(g.data[base + j] - m); g.data[base + j] = e; z += e }
                for j in 0..<c { g.data[base + j] /= z * Float(b) }
                g.data[base + labels[batch[r]]] -= 1 / Float(b)
            }
            gemm(.transpose, .none, g, x, into: &gradW)      // [C, B] · [B, D]
            let lr = s.learningRate * Float(0.5 * (1 + cos(Double.pi * Double(t) / Double(s.iterations))))
            for i in gradW.data.indices {
                let grad = gradW.data[i] + s.weightDecay * model.weights.data[i]
                velocityW.data[i] = s.momentum * velocityW.data[i] + grad
                model.weights.data[i] -= lr * velocityW.data[i]
            }
            for j in 0..<c {
                var grad: Float = 0
                for r in 0..<b { grad += g.data[r * c + j] }
                velocityB[j] = s.momentum * velocityB[j] + grad
                model.bias[j] -= lr * velocityB[j]
            }
        }
        return model  // may hold NaN when the learning rate is far too large: check `isFinite`
    }

    /// A standard normal draw (Box–Muller on two uniform doubles).
    static func gaussian(_ rng: inout SplitMix64) -> Float {
        let u1 = max(rng.unit(), 1e-300), u2 = rng.unit()
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
}
