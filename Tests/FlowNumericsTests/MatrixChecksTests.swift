import Testing
import FlowNumerics
import FlowTestSupport

/// The blocked finite-value check against a plain per-value scan.
@Suite struct MatrixChecksTests {
    /// 97 × 101 values span two 4096-value blocks and a partial third one.
    @Test(arguments: [Float.nan, .infinity, -.infinity])
    func firstNonFiniteRowFindsEveryPosition(bad: Float) throws {
        var rng = SeededGenerator(seed: 3)
        var m = random(97, 101, &rng)
        #expect(m.firstNonFiniteRow() == nil)
        for index in [0, 3, 4095, 4096, 5000, 8191, 8192, 97 * 101 - 1] {
            let saved = m.data[index]
            m.data[index] = bad
            #expect(m.firstNonFiniteRow() == index / 101, "value \(index)")
            m.data[index + (index > 0 ? -1 : 1)] = bad
            #expect(m.firstNonFiniteRow() == (index > 0 ? index - 1 : index) / 101, "values near \(index)")
            m.data[index + (index > 0 ? -1 : 1)] = 1
            m.data[index] = saved
        }
        #expect(Matrix(rows: 0, cols: 3).firstNonFiniteRow() == nil)
    }
}
