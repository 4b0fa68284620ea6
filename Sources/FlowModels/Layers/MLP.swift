/// DINOv2's `Mlp` feed-forward block: fc1 (d → hidden), exact GELU, fc2 (hidden → d).
public struct MLP: Equatable {
    public var fc1: Linear
    public var fc2: Linear

    public init(dim: Int, hidden: Int) {
        fc1 = Linear(inFeatures: dim, outFeatures: hidden)
        fc2 = Linear(inFeatures: hidden, outFeatures: dim)
    }

    /// What a backward pass needs: fc1's output before GELU, [rows, hidden].
    public struct Activations {
        public var preActivation: [Float]
    }

    /// [rows, d] → [rows, d].
    public func forward(_ input: [Float], rows: Int, threads: Int = 1,
                        keepActivations: Bool = false) -> (output: [Float], activations: Activations?) {
        var hidden = fc1.forward(input, rows: rows)
        let saved = keepActivations ? Activations(preActivation: hidden) : nil
        let count = hidden.count
        if count > 0 {
            hidden.withUnsafeMutableBufferPointer { hb in
                // Each chunk applies GELU to its own range of `p`.
                nonisolated(unsafe) let p = hb.start
                Parallel.chunks(count, threads: threads) { range in
                    FastMath.gelu(p + range.lowerBound, count: range.count)
                }
            }
        }
        return (fc2.forward(hidden, rows: rows), saved)
    }
}
