import Testing
import FlowNumerics

/// Empty shapes are answered, not crashed on: no rows, no columns, an empty inner dimension.
@Suite struct EmptyShapeTests {
    @Test func productsWithAnEmptyDimension() throws {
        let noRows = matmul(Matrix(rows: 0, cols: 4), Matrix(rows: 4, cols: 3))
        #expect(noRows.rows == 0 && noRows.cols == 3 && noRows.data.isEmpty)
        let noInner = matmul(Matrix(rows: 2, cols: 0), Matrix(rows: 0, cols: 3))
        #expect(noInner == Matrix(rows: 2, cols: 3))
        var c = Matrix(rows: 2, cols: 2, repeating: 4)
        gemm(.none, .none, Matrix(rows: 2, cols: 0), Matrix(rows: 0, cols: 2), beta: 0.5, into: &c)
        #expect(c == Matrix(rows: 2, cols: 2, repeating: 2))
    }

    /// Used to divide by a zero tile size.
    @Test func assigningNoRows() throws {
        let (assignment, distances) = KMeans.assign(Matrix(rows: 0, cols: 3), centroids: Matrix(rows: 2, cols: 3))
        #expect(assignment.isEmpty && distances.isEmpty)
    }

    /// Used to pass sgemm a leading dimension of 0, which it refuses.
    @Test func assigningRowsOfDimensionZero() throws {
        let (assignment, distances) = KMeans.assign(Matrix(rows: 3, cols: 0), centroids: Matrix(rows: 2, cols: 0))
        #expect(assignment == [0, 0, 0] && distances == [0, 0, 0])
    }

    @Test func normsOfEmptyMatrices() {
        #expect(Matrix(rows: 0, cols: 5).rowSquaredNorms().isEmpty)
        #expect(Matrix(rows: 3, cols: 0).rowSquaredNorms() == [0, 0, 0])
    }
}
