import Foundation
import FlowNumerics

/// How teacher logits become target distributions (`cfg.train.centering` in DINOv2).
public enum CenteringMode: String, Codable, Sendable, CaseIterable {
    /// softmax((t − c)/τ) with an EMA centre c ← 0.9·c + 0.1·batch-mean (default configs).
    case centering
    /// Sinkhorn-Knopp, 3 iterations (L/g configs, the paper's final runs).
    case sinkhornKnopp = "sinkhorn_knopp"
}

/// The teacher side of the DINO or iBOT loss: turns teacher head outputs into targets.
///
/// The only state is the EMA `center` ([K], zeros at start), a plain value to save with a
/// checkpoint. DINO and iBOT each own one (iBOT's centre is the mean over masked patches).
/// No gradient flows through the targets.
public struct TeacherCentering: Equatable, Codable, Sendable {
    public var mode: CenteringMode
    /// [K]; used only in `.centering` mode.
    public var center: [Float]
    /// 0.9 in DINOv2 (`center_momentum`).
    public var momentum: Float
    public var sinkhornIterations: Int

    public init(mode: CenteringMode, prototypes: Int, momentum: Float = 0.9,
                sinkhornIterations: Int = SinkhornKnopp.defaultIterations) {
        self.mode = mode
        center = [Float](repeating: 0, count: prototypes)
        self.momentum = momentum
        self.sinkhornIterations = sinkhornIterations
    }

    /// Targets [rows, K] for teacher logits [rows, K] at temperature `temperature`.
    ///
    /// In `.centering` mode the current centre is used, then the centre is updated with this
    /// batch's row mean (the order of `softmax_center_teacher` then `update_center` in
    /// ssl_meta_arch.py). Throws when the width is not K.
    public mutating func targets(_ logits: Matrix, temperature: Float) throws -> Matrix {
        guard logits.cols == center.count else {
            throw ModelError("teacher output has \(logits.cols) prototypes per row, the centering state has \(center.count)")
        }
        guard temperature > 0 else { throw ModelError("teacher temperature must be > 0, got \(temperature)") }
        switch mode {
        case .sinkhornKnopp:
            return SinkhornKnopp.targets(logits, temperature: temperature, iterations: sinkhornIterations)
        case .centering:
            let out = Self.centeredSoftmax(logits, center: center, temperature: temperature)
            updateCenter(logits)
            return out
        }
    }

    /// c ← m·c + (1 − m)·mean over rows. No change for an empty batch.
    public mutating func updateCenter(_ logits: Matrix) {
        let k = center.count
        guard logits.rows > 0, logits.cols == k else { return }
        var mean = [Double](repeating: 0, count: k)
        for r in 0..<logits.rows { for j in 0..<k { mean[j] += Double(logits.data[r * k + j]) } }
        for j in 0..<k {
            center[j] = center[j] * momentum + Float(mean[j] / Double(logits.rows)) * (1 - momentum)
        }
    }

    /// softmax((t − c)/τ) row by row, in Double.
    static func centeredSoftmax(_ logits: Matrix, center: [Float], temperature: Float) -> Matrix {
        let k = logits.cols
        var out = Matrix(rows: logits.rows, cols: k)
        let invT = 1 / Double(temperature)
        var row = [Double](repeating: 0, count: k)
        for r in 0..<logits.rows {
            var m = -Double.infinity
            for j in 0..<k {
                row[j] = (Double(logits.data[r * k + j]) - Double(center[j])) * invT
                m = max(m, row[j])
            }
            var s = 0.0
            for j in 0..<k { row[j] = Foundation.exp(row[j] - m); s += row[j] }
            for j in 0..<k { out.data[r * k + j] = Float(row[j] / s) }
        }
        return out
    }
}
