// Weighted k-NN classification as in DINOv2's k-NN evaluation (dinov2/eval/knn.py).
//
// For each query: the `maxK` most cosine-similar training rows (exact search, sgemm), weights
// softmax(sim / T) over those maxK neighbours, and for every k in `ks` the class score
// score_k[c] = Σ_{j < k} weight_j · [label_j == c]. The prediction is the class of highest
// score (ties: the lower class index). Because all classes share the softmax denominator,
// the ranking for a given k does not depend on maxK (DINOv1 used exp(sim / T) unnormalised).
import Foundation

/// Top-1 (and top-5) accuracy of weighted k-NN for one k.
public struct KNNAccuracy: Equatable, Sendable {
    /// Neighbours voting (after clamping to the training set size).
    public var k: Int
    /// Queries whose true class has the highest score.
    public var correctTop1: Int
    /// Queries whose true class is among the 5 highest scores; nil when there are 5 classes or fewer.
    public var correctTop5: Int?
    /// Number of queries.
    public var total: Int

    public var top1: Double { total > 0 ? Double(correctTop1) / Double(total) : 0 }
    public var top5: Double? { correctTop5.map { total > 0 ? Double($0) / Double(total) : 0 } }
}

/// The outcome of a k-NN evaluation: one accuracy per requested k, plus the predictions.
public struct KNNEvaluation: Sendable {
    /// Neighbours retrieved per query (max of the ks, at most the training set size).
    public var neighbors: Int
    /// Number of classes (max label + 1 over train and queries).
    public var classes: Int
    /// One entry per requested k, in the order given.
    public var accuracies: [KNNAccuracy]
    /// predictions[i][q]: the top-1 class of query q for `accuracies[i].k`.
    public var predictions: [[Int]]
}

/// DINOv2's weighted k-NN classifier over L2-normalised features.
public enum KNNClassifier {
    /// Class scores [classes] of one query for each k: softmax(sims / T) over all given
    /// neighbours, then cumulative one-hot sums. `sims` and `labels` are the neighbours,
    /// best first. Returns scores[kIndex][class].
    public static func classScores(sims: [Float], labels: [Int], classes: Int, ks: [Int],
                                   temperature: Float) -> [[Float]] {
        precondition(sims.count == labels.count, "KNNClassifier: \(sims.count) sims, \(labels.count) labels")
        // Softmax in Double, shifted by the maximum for stability.
        let top = sims.map { Double($0) / Double(temperature) }
        let m = top.max() ?? 0
        let e = top.map { exp($0 - m) }
        let z = e.reduce(0, +)
        let w = e.map { Float($0 / z) }
        let order = ks.indices.sorted { ks[$0] < ks[$1] }
        var out = [[Float]](repeating: [], count: ks.count)
        var acc = [Float](repeating: 0, count: classes)
        var j = 0
        for i in order {
            let k = min(ks[i], sims.count)
            while j < k { acc[labels[j]] += w[j]; j += 1 }
            out[i] = acc
        }
        return out
    }

    /// Classifies every query by weighted voting of its nearest training rows and scores the
    /// predictions against `queryLabels`.
    ///
    /// Features need not be normalised (rows are normalised here). Throws `NumericsError` for
    /// empty inputs, mismatched dimensions or label counts, negative labels, a non-positive
    /// temperature, a k below 1, or NaN / all-zero rows (naming the row).
    public static func evaluate(train: Matrix, trainLabels: [Int], queries: Matrix, queryLabels: [Int],
                                ks: [Int], temperature: Float) throws -> KNNEvaluation {
        try train.validate("train features")
        try queries.validate("query features")
        guard trainLabels.count == train.rows else {
            throw NumericsError("\(train.rows) train rows but \(trainLabels.count) train labels")
        }
        guard queryLabels.count == queries.rows else {
            throw NumericsError("\(queries.rows) query rows but \(queryLabels.count) query labels")
        }
        guard !ks.isEmpty, ks.allSatisfy({ $0 >= 1 }) else {
            throw NumericsError("every k must be at least 1 (got \(ks))")
        }
        guard temperature > 0, temperature.isFinite else {
            throw NumericsError("the temperature must be positive, got \(temperature)")
        }
        if let i = trainLabels.firstIndex(where: { $0 < 0 }) {
            throw NumericsError("train label \(i) is negative (\(trainLabels[i])): labels are class indices 0, 1, ...")
        }
        if let i = queryLabels.firstIndex(where: { $0 < 0 }) {
            throw NumericsError("query label \(i) is negative (\(queryLabels[i])): labels are class indices 0, 1, ...")
        }
        let classes = max(trainLabels.max() ?? 0, queryLabels.max() ?? 0) + 1
        let neighbors = min(ks.max() ?? 1, train.rows)
        let found = try NearestNeighbors.search(queries: queries, pool: train, k: neighbors)
        var predictions = [[Int]](repeating: [Int](repeating: 0, count: queries.rows), count: ks.count)
        var correct1 = [Int](repeating: 0, count: ks.count)
        var correct5 = [Int](repeating: 0, count: ks.count)
        for q in 0..<queries.rows {
            let row = found.row(q)
            let scores = classScores(sims: row.map(\.score), labels: row.map { trainLabels[$0.index] },
                                     classes: classes, ks: ks, temperature: temperature)
            for i in ks.indices {
                let ranked = rankClasses(scores[i], limit: 5)
                predictions[i][q] = ranked[0]
                if ranked[0] == queryLabels[q] { correct1[i] += 1 }
                if ranked.contains(queryLabels[q]) { correct5[i] += 1 }
            }
        }
        let accuracies = ks.indices.map { i in
            KNNAccuracy(k: min(ks[i], train.rows), correctTop1: correct1[i],
                        correctTop5: classes > 5 ? correct5[i] : nil, total: queries.rows)
        }
        return KNNEvaluation(neighbors: neighbors, classes: classes, accuracies: accuracies, predictions: predictions)
    }

    /// The indices of the `limit` largest scores, highest first; ties go to the lower index.
    public static func rankClasses(_ scores: [Float], limit: Int) -> [Int] {
        var best: [Int] = []
        for c in scores.indices {
            var p = best.count
            while p > 0 && scores[best[p - 1]] < scores[c] { p -= 1 }
            if p < limit {
                best.insert(c, at: p)
                if best.count > limit { best.removeLast() }
            }
        }
        return best
    }
}
