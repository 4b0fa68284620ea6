import Testing
@testable import FlowReport

/// The layered layout: layers, virtual points for long edges, crossing reduction, coordinates.
@Suite struct LayoutTests {
    func edges(_ pairs: [(Int, Int)]) -> [GraphEdge] { pairs.map { GraphEdge(from: $0.0, to: $0.1) } }

    @Test func layersAreLongestPaths() {
        // 0 → 1 → 2 → 3, and 0 → 3 directly: 3 is on layer 3, not 1.
        let l = LayeredLayout(nodeCount: 4, edges: edges([(0, 1), (1, 2), (2, 3), (0, 3)]))
        #expect(l.layerOf == [0, 1, 2, 3])
        #expect(l.layers == [[0], [1], [2], [3]])
    }

    @Test func longEdgesPassThroughEveryLayerBetween() {
        let l = LayeredLayout(nodeCount: 4, edges: edges([(0, 1), (1, 2), (2, 3), (0, 3)]), nodeHeight: 30, verticalGap: 40)
        let path = l.edgePaths[3]
        #expect(path.count == 4)   // source, two virtual points, target
        #expect(path.first!.y == l.centers[0].y + 15)
        #expect(path.last!.y == l.centers[3].y - 15)
        #expect(zip(path, path.dropFirst()).allSatisfy { $0.y < $1.y })
    }

    @Test func barycenterRemovesAvoidableCrossings() {
        // Sources a=0, b=1; targets listed in the "wrong" order: 2 ← b, 3 ← a.
        // In node order the edges cross once; swapping 2 and 3 removes it.
        let l = LayeredLayout(nodeCount: 4, edges: edges([(1, 2), (0, 3)]))
        #expect(l.crossings == 0)
        #expect(l.layers[1] == [3, 2])
        // A bigger case: two chains interleaved in definition order.
        let n = 10
        var pairs: [(Int, Int)] = []
        for i in 0..<5 { pairs.append((i, 5 + (4 - i))) }
        let big = LayeredLayout(nodeCount: n, edges: edges(pairs))
        #expect(big.crossings == 0)
    }

    @Test func crossingsThatCannotBeAvoidedAreCounted() {
        // K(2,2) with a shared layer: 0,1 → 2,3 all connected has one unavoidable crossing.
        let l = LayeredLayout(nodeCount: 4, edges: edges([(0, 2), (0, 3), (1, 2), (1, 3)]))
        #expect(l.crossings == 1)
    }

    @Test func boxesDoNotOverlapAndFitTheCanvas() {
        let pairs = (1..<7).map { (0, $0) } + (1..<7).map { ($0, 7) }
        let l = LayeredLayout(nodeCount: 8, edges: edges(pairs), nodeWidth: 100, nodeHeight: 30, horizontalGap: 20)
        let row = l.layers[1].map { l.centers[$0].x }
        #expect(row.count == 6)
        #expect(zip(row, row.dropFirst()).allSatisfy { $1 - $0 >= 120 })
        #expect(l.centers.allSatisfy { $0.x - 50 >= 0 && $0.x + 50 <= l.width && $0.y + 15 <= l.height })
    }

    @Test func cyclesDoNotHang() {
        let l = LayeredLayout(nodeCount: 3, edges: edges([(0, 1), (1, 2), (2, 1)]))
        #expect(l.layerOf[0] == 0)
        #expect(l.layers.flatMap { $0 }.sorted() == [0, 1, 2])
    }
}
