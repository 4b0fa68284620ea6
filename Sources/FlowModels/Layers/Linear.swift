import FlowNumerics

/// A fully connected layer y = x·Wᵀ + b, as torch.nn.Linear: `weight` is [out, in] row-major.
///
/// The forward runs on a whole batch of rows at once ([rows, in] → [rows, out]) with one sgemm.
/// A backward pass needs only the input rows, which the caller keeps.
public struct Linear: Equatable {
    public var inFeatures: Int
    public var outFeatures: Int
    /// [outFeatures, inFeatures], row-major.
    public var weight: [Float]
    /// [outFeatures].
    public var bias: [Float]

    public init(inFeatures: Int, outFeatures: Int, weight: [Float], bias: [Float]) {
        precondition(weight.count == inFeatures * outFeatures && bias.count == outFeatures,
                     "Linear: weight/bias sizes do not match \(outFeatures)x\(inFeatures)")
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.weight = weight
        self.bias = bias
    }

    /// A zero layer (weights filled in later by init or loading).
    public init(inFeatures: Int, outFeatures: Int) {
        self.init(inFeatures: inFeatures, outFeatures: outFeatures,
                  weight: [Float](repeating: 0, count: inFeatures * outFeatures),
                  bias: [Float](repeating: 0, count: outFeatures))
    }

    /// [rows, in] → [rows, out].
    public func forward(_ input: [Float], rows: Int) -> [Float] {
        precondition(input.count == rows * inFeatures, "Linear: input is not [\(rows), \(inFeatures)]")
        var output = uninitializedFloats(rows * outFeatures)
        if rows == 0 { return output }
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                forward(x.start, rows: rows, into: y.start)
            }
        }
        return output
    }

    /// Writes x·Wᵀ + b for `rows` rows of `input` (stride in) into `output` (stride out).
    func forward(_ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>) {
        if rows == 0 { return }
        bias.withUnsafeBufferPointer { b in
            for r in 0..<rows { (output + r * outFeatures).update(from: b.start, count: outFeatures) }
        }
        weight.withUnsafeBufferPointer { w in
            BLAS.sgemm(.none, .transpose, m: rows, n: outFeatures, k: inFeatures,
                       a: input, lda: inFeatures, b: w.start, ldb: inFeatures,
                       beta: 1, c: output, ldc: outFeatures)
        }
    }
}
