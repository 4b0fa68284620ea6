import Testing
import FlowNumerics
import FlowTestSupport

@Suite(.serialized) struct SamplingTests {
    @Test func capIsTheLargestThatFits() {
        #expect(BalancedSampling.cap([10, 3, 7, 1], target: 12) == 4)   // 4+3+4+1 = 12
        #expect(BalancedSampling.cap([10, 3, 7, 1], target: 13) == 4)   // 5 would give 14
        #expect(BalancedSampling.cap([10, 3, 7, 1], target: 100) == 10)
        // Brute force over many cases: Σmin(x, s) ≤ T and Σmin(x+1, s) > T.
        var rng = SeededGenerator(seed: 1)
        for _ in 0..<200 {
            let sizes = (0..<Int.random(in: 1...8, using: &rng)).map { _ in Int.random(in: 0...20, using: &rng) }
            let t = Int.random(in: 0...sizes.reduce(0, +), using: &rng)
            let x = BalancedSampling.cap(sizes, target: t)
            let total = { (c: Int) in sizes.reduce(0) { $0 + min(c, $1) } }
            #expect(total(x) <= t)
            #expect(x == sizes.max()! || total(x + 1) > t)
        }
    }

    @Test func twoLevelSamplingCapsClusterSizes() throws {
        // Level 1: 6 clusters of sizes 50, 2, 10, 30, 5, 3 over 100 points.
        // Level 2: {0, 1} and {2, 3, 4, 5}: flat sizes 52 and 48.
        let sizes = [50, 2, 10, 30, 5, 3]
        var offsets = [0], members = [Int]()
        for s in sizes { members += (offsets.last!)..<(offsets.last! + s); offsets.append(offsets.last! + s) }
        let l1 = try Clusters(offsets: offsets, members: members)
        let l2 = try Clusters(offsets: [0, 2, 6], members: [0, 1, 2, 3, 4, 5])
        let s = try BalancedSampling.sample(levels: [l1, l2], target: 40, seed: 3)
        #expect(s.indices.count == 40)
        #expect(Set(s.indices).count == 40)
        #expect(s.sizesBefore[1] == [52, 48])
        #expect(s.sizesAfter[1] == [20, 20])                  // cap 20 at the top
        // Under {2,3,4,5} with target 20: cap x=6 gives 6+6+5+3 = 20.
        #expect(Array(s.sizesAfter[0][2...5]) == [6, 6, 5, 3])
        #expect(Array(s.sizesAfter[0][0...1]) == [18, 2])     // 20 split over 50 and 2
        for c in 0..<6 {
            let taken = s.indices.filter { l1.members(of: c).contains($0) }.count
            #expect(taken == s.sizesAfter[0][c])
        }
        // Closest strategy takes the first members; the multiplier tiles small clusters.
        let closest = try BalancedSampling.sample(levels: [l1, l2], target: 40, strategy: .closest, seed: 3)
        #expect(closest.indices.filter { $0 < 50 } == Array(0..<18))
        let tiled = try BalancedSampling.sample(levels: [l1], target: 1000, multiplier: 2)
        #expect(tiled.indices.count == 200)
    }

    @Test func remainderGoesToLargeClustersOnly() throws {
        let l1 = try Clusters(offsets: [0, 10, 20, 21], members: Array(0..<21))
        for seed in UInt64(0)..<20 {
            let s = try BalancedSampling.sample(levels: [l1], target: 12, seed: seed)
            // cap 5: 5+5+1 = 11, one extra to cluster 0 or 1 at random.
            #expect(s.sizesAfter[0][2] == 1)
            #expect(Set([s.sizesAfter[0][0], s.sizesAfter[0][1]]) == Set([5, 6]))
        }
    }
}

@Suite(.serialized) struct HierarchyTests {
    @Test func hierarchicalLevelsNestAndResamplingKeepsBlobs() throws {
        // 4 groups of 3 blobs each: level 1 (k=12) finds the blobs, level 2 (k=4) the groups.
        var rng = SeededGenerator(seed: 8)
        var centres = [[Float]]()
        for _ in 0..<4 {
            let g = (0..<6).map { _ in Float.random(in: -100...100, using: &rng) }
            for _ in 0..<3 { centres.append(g.map { $0 + Float.random(in: -8...8, using: &rng) }) }
        }
        let x = blobs(centres, perBlob: 20, sigma: 0.2, seed: 2)
        let levels = try KMeans.hierarchical(x, levels: [KMeansLevel(k: 12, resamples: 2, sampleSize: 5), KMeansLevel(k: 4, resamples: 1)],
                                             options: KMeansOptions(k: 0, iterations: 10, seed: 4))
        #expect(levels.count == 2)
        #expect(levels[0].inertiaLogs.count == 3 && levels[1].inertiaLogs.count == 2)
        #expect(levels[0].clusters.members.sorted() == Array(0..<240))
        #expect(levels[1].clusters.members.sorted() == Array(0..<12))
        for b in 0..<12 { #expect(Set(levels[0].assignment[(b * 20)..<(b * 20 + 20)]).count == 1) }
        // Members are sorted by distance to their centroid.
        let l0 = levels[0]
        for c in 0..<12 {
            let d = l0.clusters.members(of: c).map { i in zip(x.row(i), l0.centroids.row(c)).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } }
            #expect(d == d.sorted())
        }
        #expect(throws: NumericsError.self) {
            try KMeans.hierarchical(x, levels: [KMeansLevel(k: 12), KMeansLevel(k: 13)], options: KMeansOptions(k: 0))
        }
    }

    @Test func clusterRetrievalTakesClustersWithEnoughQueries() throws {
        let centroids = try Matrix([[0, 0], [10, 0], [0, 10]])
        let clusters = try Clusters(offsets: [0, 3, 5, 7], members: [4, 0, 6, 1, 2, 3, 5])
        let queries = try Matrix([[0.1, 0], [0, 0.2], [0.3, 0.1], [0.1, 0.1], [10, 1], [9, 0], [10, 0], [0, 9]])
        let r = try ClusterRetrieval.select(queries: queries, centroids: centroids, clusters: clusters, minQueries: 2, perCluster: 2)
        #expect(r.queriesPerCluster == [4, 3, 1])
        #expect(r.clustersTaken == [0, 1])
        #expect(r.indices == [0, 1, 2, 4])   // cluster 0 closest-first [4, 0], cluster 1 whole
    }
}
