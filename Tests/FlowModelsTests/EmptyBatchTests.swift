import FlowNumerics
import Testing
@testable import FlowModels

/// Batches with no rows, and images with no tokens, give empty results instead of crashing.
@Suite struct EmptyBatchTests {
    @Test func layersOnNoRows() {
        #expect(Linear(inFeatures: 4, outFeatures: 3).forward([], rows: 0).isEmpty)
        #expect(LayerNorm(dim: 4).forward([], rows: 0, threads: 2).isEmpty)
        #expect(MLP(dim: 4, hidden: 8).forward([], rows: 0, threads: 2).output.isEmpty)
        #expect(PatchEmbed(patch: 2, dim: 4).patches([], batch: 0, height: 4, width: 4).isEmpty)
    }

    /// Images of no tokens used to reach sgemm with a leading dimension of 0, which it refuses.
    @Test func attentionOverNoTokens() throws {
        let a = Attention(dim: 4, heads: 2)
        let (y, kept) = a.forward([], batch: 3, tokens: 0, threads: 2, keepActivations: true)
        #expect(y.isEmpty)
        var gradients = Attention(dim: 4, heads: 2)
        let before = gradients
        let activations = try #require(kept)
        let dx = a.backward(input: [], activations: activations, outputGradient: [], batch: 3, tokens: 0,
                            gradients: &gradients, threads: 2)
        #expect(dx.isEmpty)
        #expect(gradients == before)
    }

    @Test func lossesNeedPrototypes() {
        #expect(throws: ModelError.self) {
            try DINOLoss().evaluate(student: Matrix(rows: 4, cols: 0), teacher: Matrix(rows: 2, cols: 0))
        }
        #expect(throws: ModelError.self) {
            try iBOTPatchLoss().evaluate(student: Matrix(rows: 1, cols: 0), teacher: Matrix(rows: 1, cols: 0),
                                         patchImages: [0], images: 2)
        }
    }
}
