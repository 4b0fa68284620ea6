/// LayerNorm over the last dimension, as torch.nn.LayerNorm(dim, eps: 1e-6) in DINOv2.
///
/// `forward` returns the normalized rows and, for a later backward pass, each row's mean and
/// reciprocal standard deviation (`Statistics`).
public struct LayerNorm: Equatable {
    public var dim: Int
    public var eps: Float
    /// γ, [dim].
    public var weight: [Float]
    /// β, [dim].
    public var bias: [Float]

    public init(dim: Int, eps: Float = 1e-6) {
        self.dim = dim
        self.eps = eps
        weight = [Float](repeating: 1, count: dim)
        bias = [Float](repeating: 0, count: dim)
    }

    /// Per-row mean and 1/sqrt(var + eps), saved for the backward pass.
    public struct Statistics: Equatable {
        public var mean: [Float]
        public var rstd: [Float]
    }

    /// [rows, dim] → [rows, dim].
    public func forward(_ input: [Float], rows: Int, threads: Int = 1) -> [Float] {
        forwardWithStatistics(input, rows: rows, threads: threads).output
    }

    public func forwardWithStatistics(_ input: [Float], rows: Int, threads: Int = 1)
        -> (output: [Float], statistics: Statistics) {
        precondition(input.count == rows * dim, "LayerNorm: input is not [\(rows), \(dim)]")
        var output = uninitializedFloats(rows * dim)
        var mean = uninitializedFloats(rows)
        var rstd = uninitializedFloats(rows)
        let d = dim
        let eps = eps
        if rows > 0 && d > 0 {
            input.withUnsafeBufferPointer { xb in
                output.withUnsafeMutableBufferPointer { yb in
                    mean.withUnsafeMutableBufferPointer { mb in
                        rstd.withUnsafeMutableBufferPointer { sb in
                            weight.withUnsafeBufferPointer { gb in
                                bias.withUnsafeBufferPointer { bb in
                                    // Each chunk of rows reads its rows of `x` and the shared γ, β, and
                                    // writes its own rows of `y`, `m` and `s`.
                                    nonisolated(unsafe) let x = xb.start, y = yb.start
                                    nonisolated(unsafe) let m = mb.start, s = sb.start
                                    nonisolated(unsafe) let g = gb.start, b = bb.start
                                    Parallel.chunks(rows, threads: threads) { range in
                                        for r in range {
                                            let row = x + r * d
                                            var sum: Float = 0
                                            for j in 0..<d { sum += row[j] }
                                            let mu = sum / Float(d)
                                            var sq: Float = 0
                                            for j in 0..<d {
                                                let c = row[j] - mu
                                                sq += c * c
                                            }
                                            let inv = 1 / (sq / Float(d) + eps).squareRoot()
                                            m[r] = mu
                                            s[r] = inv
                                            let out = y + r * d
                                            for j in 0..<d { out[j] = (row[j] - mu) * inv * g[j] + b[j] }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (output, Statistics(mean: mean, rstd: rstd))
    }
}
