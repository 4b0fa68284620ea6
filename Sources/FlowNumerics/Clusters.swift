// Clusters stored as CSR: offsets (K+1) and members, pickle-free (dinov2-spec §1.2, §7).

/// K clusters as compressed sparse rows: the members of cluster c are
/// `members[offsets[c]..<offsets[c + 1]]`, sorted by increasing distance to the centroid
/// (ties: lower index first). Invariant: offsets[0] == 0, offsets is non-decreasing and
/// offsets[K] == members.count; every member index is in 0..<N of the clustered level.
public struct Clusters: Equatable, Sendable {
    public var offsets: [Int]
    public var members: [Int]

    /// Groups points by `assignment` (values in 0..<k), each group sorted by `distances`.
    public init(assignment: [Int], distances: [Float], k: Int) {
        precondition(assignment.count == distances.count, "Clusters: \(assignment.count) labels, \(distances.count) distances")
        var counts = [Int](repeating: 0, count: k + 1)
        for a in assignment { counts[a + 1] += 1 }
        for c in 0..<k { counts[c + 1] += counts[c] }
        offsets = counts
        var fill = counts
        members = [Int](repeating: 0, count: assignment.count)
        for (i, a) in assignment.enumerated() {
            members[fill[a]] = i
            fill[a] += 1
        }
        for c in 0..<k {
            members[offsets[c]..<offsets[c + 1]].sort {
                distances[$0] < distances[$1] || (distances[$0] == distances[$1] && $0 < $1)
            }
        }
    }

    /// Wraps stored arrays, checking the CSR invariants; throws naming the first violation.
    public init(offsets: [Int], members: [Int], levelSize: Int? = nil) throws {
        guard let first = offsets.first, first == 0 else { throw NumericsError("offsets must start with 0") }
        for c in 0..<(offsets.count - 1) where offsets[c + 1] < offsets[c] {
            throw NumericsError("offsets decrease at cluster \(c) (\(offsets[c]) then \(offsets[c + 1]))")
        }
        guard offsets.last == members.count else {
            throw NumericsError("the last offset is \(offsets.last ?? 0) but there are \(members.count) members")
        }
        if let n = levelSize, let bad = members.firstIndex(where: { $0 < 0 || $0 >= n }) {
            throw NumericsError("member \(bad) is \(members[bad]), outside 0..<\(n)")
        }
        self.offsets = offsets
        self.members = members
    }

    public var count: Int { offsets.count - 1 }

    /// Members of cluster `c`, closest to the centroid first.
    public func members(of c: Int) -> ArraySlice<Int> { members[offsets[c]..<offsets[c + 1]] }

    /// The number of members of each cluster.
    public var sizes: [Int] { (0..<count).map { offsets[$0 + 1] - offsets[$0] } }
}
