// flow op dedup: near-duplicate removal by k-NN graph components, optionally against a reference set.
import ArgumentParser
import Foundation
import FlowNumerics

/// `flow op dedup`: keep one item per connected component of the "cosine > threshold" k-NN
/// graph; with --against, also drop every component holding an item too close to the reference.
struct DedupOp: FlowOp {
    static let configuration = CommandConfiguration(
        commandName: "dedup",
        abstract: "Remove near-duplicate embeddings (self and relative to a reference set).",
        discussion: """
        Builds the k-nearest-neighbour graph by cosine similarity (exact, through sgemm), joins \\
        pairs whose similarity exceeds --threshold, and keeps the first item (in input order) of \\
        each connected component. With --against R.npy, an item whose similarity to any row of R \\
        exceeds --against-threshold marks its whole component for removal (DINOv2 removes \\
        near-copies of evaluation images this way). Writes the kept row indices, increasing, as \\
        int64 [K]. See docs/curation.md.
        """)
    /// 2: cosine scores from shifted distances (rankings change on offset data).
    static let version = 2

    @Option(help: "Embeddings: a 2-D float32 (or float16) .npy [N, D].")
    var emb: String

    @Option(help: "Cosine similarity above which two items are duplicates (DINOv2: 0.6).")
    var threshold: Float

    @Option(name: .customLong("k"), help: "Neighbours per item in the k-NN graph, the item itself included.")
    var k: Int = 64

    @Option(help: "Reference embeddings [M, D] (e.g. evaluation sets) to deduplicate against.")
    var against: String?

    @Option(help: "Cosine similarity to a reference row above which an item's component is dropped (DINOv2: 0.45).")
    var againstThreshold: Float = 0.45

    @Option(help: "Output: kept row indices, int64 [K].")
    var out: String

    @Option(help: "Optional JSON report of the counts.")
    var report: String?

    @Option(help: "Threads for BLAS and the top-k loops (default: the step's cpus, FLOW_CPUS, else 1).")
    var threads: Int?

    func validate() throws {
        guard k >= 1 else { throw ValidationError("--k must be at least 1") }
        guard (-1...1).contains(threshold) else { throw ValidationError("--threshold is a cosine similarity in [-1, 1]") }
    }

    func run() throws {
        let start = Date()
        _ = CurationIO.configureThreads(threads)
        let x = try CurationIO.readMatrix(emb, what: "embeddings")
        let reference = try against.map { try NPYRowFile(path: $0, what: "reference embeddings") }
        if let reference, reference.dimension != x.cols {
            throw OpError("\(reference.path): reference embeddings have dimension \(reference.dimension) but \(emb) has \(x.cols)")
        }
        let r: DedupResult
        do {
            r = try Dedup.run(x, threshold: threshold, k: k, reference: reference,
                              referenceThreshold: againstThreshold) { Progress.shared.report($0) }
        } catch let e as NumericsError {
            let file = e.message.hasPrefix("pool") && against != nil ? against! : emb
            throw OpError("\(file): \(e.message)")
        }
        try CurationIO.writeIndices(r.keep, to: out)
        let doc: [String: Any] = [
            "items": x.rows, "kept": r.keep.count, "removed_duplicates": r.removedAsDuplicates,
            "removed_near_reference": r.removedNearReference, "items_near_reference": r.nearReference,
            "edges": r.edges, "components": Set(r.component).count, "threshold": Double(threshold), "k": k,
            "against_threshold": against == nil ? NSNull() : Double(againstThreshold) as Any,
        ]
        if let report { try CurationIO.writeJSON(doc, to: report) }
        print("dedup: \(x.rows) items, \(r.edges) duplicate pairs; removed \(r.removedAsDuplicates) duplicates" +
              (against == nil ? "" : " and \(r.removedNearReference) in components near the reference (\(r.nearReference) items above \(againstThreshold))") +
              "; kept \(r.keep.count) (\(CurationIO.elapsed(start)))")
    }
}
