// flow op sample-clusters: balanced sampling down a k-means hierarchy.
import ArgumentParser
import Foundation
import FlowNumerics

/// `flow op sample-clusters`: draws a target number of points so that clusters are as equal
/// as the hierarchy allows (a common cap per cluster, found by binary search, level by level).
struct SampleClustersOp: FlowOp {
    static let configuration = CommandConfiguration(
        commandName: "sample-clusters",
        abstract: "Balanced sampling of points down a k-means hierarchy to a target size.",
        discussion: """
        Reads the hierarchy written by `flow op kmeans --out DIR` (DIR/level1, DIR/level2, ...). \\
        At the top level the target is split over clusters by their number of points: each gets \\
        min(cap, size), the largest cap that fits, and the remainder goes one by one to clusters \\
        above the cap, chosen at random. The same split recurses into each cluster's children; a \\
        level-1 cluster larger than its share gives random points (--strategy r) or those \\
        closest to its centroid (c). Writes the chosen embedding row indices, int64 [T], and \\
        with --report the cluster sizes before and after sampling. See docs/curation.md.
        """)
    static let version = 1

    @Option(help: "Hierarchy directory from `flow op kmeans --out` (level1/offsets.npy, level1/members.npy, ...).")
    var clusters: String

    @Option(help: "Number of points to draw.")
    var target: Int

    @Option(help: "Levels to use, from level 1 (default: every levelN directory present).")
    var levels: Int?

    @Option(help: "Multiplier m: sizes count m times and small clusters are taken m times.")
    var multiplier: Int = 1

    @Option(help: "Leaf strategy: r (random) or c (closest to the centroid).")
    var strategy: LeafStrategy = .random

    @Option(help: "Seed of the random choices.")
    var seed: UInt64 = 0

    @Option(help: "Output: chosen embedding row indices, int64 [T].")
    var out: String

    @Option(help: "Optional JSON report: cluster sizes per level before and after sampling.")
    var report: String?

    func validate() throws {
        guard target >= 0 else { throw ValidationError("--target must be ≥ 0") }
        guard multiplier >= 1 else { throw ValidationError("--multiplier must be ≥ 1") }
    }

    func run() throws {
        let start = Date()
        var found = [Clusters]()
        var level = 1
        while levels.map({ level <= $0 }) ?? true {
            let dir = (clusters as NSString).appendingPathComponent("level\(level)")
            let offsetsPath = (dir as NSString).appendingPathComponent("offsets.npy")
            guard FileManager.default.fileExists(atPath: offsetsPath) else {
                if levels != nil || level == 1 {
                    throw OpError("\(offsetsPath): missing; run `flow op kmeans --out \(clusters)` first (level \(level) of \(levels ?? level))")
                }
                break
            }
            let offsets = try CurationIO.readIndices(offsetsPath, what: "cluster offsets")
            let membersPath = (dir as NSString).appendingPathComponent("members.npy")
            let members = try CurationIO.readIndices(membersPath, what: "cluster members")
            found.append(try CurationIO.check(membersPath) { try Clusters(offsets: offsets, members: members, levelSize: found.last?.count) })
            level += 1
        }
        let s = try CurationIO.check(clusters) {
            try BalancedSampling.sample(levels: found, target: target, multiplier: multiplier,
                                        strategy: strategy, seed: seed)
        }
        try CurationIO.writeIndices(s.indices, to: out)
        if let report {
            let doc: [String: Any] = [
                "target": target, "selected": s.indices.count, "multiplier": multiplier, "strategy": strategy.rawValue, "seed": seed,
                "levels": (0..<found.count).map { t -> [String: Any] in
                    ["level": t + 1, "sizes_before": s.sizesBefore[t], "sizes_after": s.sizesAfter[t],
                     "max_before": s.sizesBefore[t].max() ?? 0, "max_after": s.sizesAfter[t].max() ?? 0]
                },
            ]
            try CurationIO.writeJSON(doc, to: report)
        }
        let top = found.count - 1
        print("sample-clusters: \(s.indices.count) of \(s.sizesBefore[0].reduce(0, +)) points over \(found.count) levels; " +
              "largest top cluster \(s.sizesBefore[top].max() ?? 0) -> \(s.sizesAfter[top].max() ?? 0) (\(CurationIO.elapsed(start)))")
    }
}
