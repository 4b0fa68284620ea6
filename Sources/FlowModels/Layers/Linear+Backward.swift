import FlowNumerics

extension Linear {
    /// Backward pass of y = x·Wᵀ + b over `rows` rows.
    ///
    /// Accumulates ∂W += dyᵀ·x ([out, in]) and ∂b += Σ_rows dy into `gradients` (a `Linear` of the
    /// same shape holding gradients), so several passes (crops) add up; returns dx = dy·W
    /// ([rows, in]) when `needInputGradient`.
    public func backward(input: [Float], outputGradient: [Float], rows: Int, gradients: inout Linear,
                         needInputGradient: Bool = true) -> [Float]? {
        precondition(input.count == rows * inFeatures && outputGradient.count == rows * outFeatures,
                     "Linear.backward: input or gradient is not [\(rows), \(inFeatures)/\(outFeatures)]")
        precondition(gradients.weight.count == weight.count, "Linear.backward: gradient layer of another shape")
        if rows == 0 { return needInputGradient ? [] : nil }
        let o = outFeatures, i = inFeatures
        // ∂W [out, in] += dyᵀ [out, rows] · x [rows, in]
        gemm(.transpose, .none, m: o, n: i, k: rows, outputGradient, Block(ld: o), input, Block(ld: i),
             beta: 1, &gradients.weight, Block(ld: i))
        outputGradient.withUnsafeBufferPointer { gb in
            gradients.bias.withUnsafeMutableBufferPointer { bb in
                let g = gb.start, b = bb.start  // rows > 0 here
                for r in 0..<rows {
                    let row = g + r * o
                    for j in 0..<o { b[j] += row[j] }
                }
            }
        }
        guard needInputGradient else { return nil }
        // dx [rows, in] = dy [rows, out] · W [out, in]
        var dx = uninitializedFloats(rows * i)
        gemm(.none, .none, m: rows, n: i, k: o, outputGradient, Block(ld: o), weight, Block(ld: i),
             beta: 0, &dx, Block(ld: i))
        return dx
    }
}
