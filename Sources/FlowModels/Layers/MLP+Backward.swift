extension FastMath {
    /// d/dx of exact GELU: ½(1 + erf(x/√2)) + x·φ(x), φ the standard normal density.
    @inline(__always)
    static func geluDerivative(_ x: Float) -> Float {
        0.5 * (1 + erf(x * 0.707_106_781_186_547_6)) + x * 0.398_942_280_401_432_7 * exp(-0.5 * x * x)
    }
}

extension MLP {
    /// Backward pass of fc2(GELU(fc1(x))). `input` is the forward's input [rows, d] and
    /// `activations` what it kept; gradients accumulate into `gradients`. Returns dx [rows, d].
    public func backward(input: [Float], activations: Activations, outputGradient: [Float], rows: Int,
                         gradients: inout MLP, threads: Int = 1) -> [Float] {
        let pre = activations.preActivation
        let count = pre.count
        var hidden = uninitializedFloats(count)   // GELU(pre), fc2's input
        var slope = uninitializedFloats(count)    // GELU'(pre)
        if count > 0 {
            pre.withUnsafeBufferPointer { pb in
                hidden.withUnsafeMutableBufferPointer { hb in
                    slope.withUnsafeMutableBufferPointer { sb in
                        // Each chunk reads its own range of `p` and writes that range of `h` and `s`.
                        nonisolated(unsafe) let p = pb.start, h = hb.start, s = sb.start
                        Parallel.chunks(count, threads: threads) { range in
                            for i in range {
                                // One erf for both: Φ(x) = ½(1 + erf(x/√2)), GELU = x·Φ, GELU' = Φ + x·φ.
                                let x = p[i]
                                let e = FastMath.erf(x * 0.707_106_781_186_547_6)
                                h[i] = 0.5 * x * (1 + e)   // the same expression as FastMath.gelu
                                s[i] = 0.5 * (1 + e) + x * 0.398_942_280_401_432_7 * FastMath.exp(-0.5 * x * x)
                            }
                        }
                    }
                }
            }
        }
        var dHidden = fc2.backward(input: hidden, outputGradient: outputGradient, rows: rows,
                                   gradients: &gradients.fc2)!
        dHidden.withUnsafeMutableBufferPointer { db in
            slope.withUnsafeBufferPointer { sb in
                for i in 0..<count { db[i] *= sb[i] }
            }
        }
        return fc1.backward(input: input, outputGradient: dHidden, rows: rows, gradients: &gradients.fc1)!
    }

    /// The forward output recomputed from kept activations (for LayerScale's γ gradient).
    func output(from activations: Activations, rows: Int) -> [Float] {
        var hidden = activations.preActivation
        for i in hidden.indices { hidden[i] = FastMath.gelu(hidden[i]) }
        return fc2.forward(hidden, rows: rows)
    }
}
