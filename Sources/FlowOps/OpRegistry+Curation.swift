extension OpRegistry {
    /// Curation (issue 5): clustering, deduplication, retrieval, balanced sampling, selection.
    static let curationOps: [any FlowOp.Type] = [KMeansOp.self, DedupOp.self, RetrieveOp.self, SampleClustersOp.self, SelectOp.self]
}
