import Testing
import Foundation
import FlowTestSupport

/// The curation ops run as a user would run them: `flow op NAME ...` on small .npy files.
@Suite struct CurationOpsTests {
    /// 4 blobs of 25 points in 8-d, far apart; blob b holds rows 25b..<25b+25.
    func blobData() -> (rows: [[Float]], n: Int, d: Int) {
        var rng = SeededGenerator(seed: 3)
        var rows = [[Float]]()
        for b in 0..<4 {
            for _ in 0..<25 { rows.append((0..<8).map { j in (j == b ? 50 : 0) + Float.random(in: -1...1, using: &rng) }) }
        }
        return (rows, 100, 8)
    }

    @Test func kmeansFlatFindsBlobsAndLogsInertia() throws {
        let dir = TemporaryDirectory()
        try writeNPY(blobData().rows, to: dir.url("e.npy").path)
        let r = try FlowBinary.run(["op", "kmeans", "--emb", "e.npy", "--k", "4", "--iters", "10", "--seed", "1",
                                    "--centroids", "c.npy", "--assign", "a.npy", "--log", "log.json"], in: dir.path)
        try #require(r.status == 0, "\(r)")
        let assign = try readInt64NPY(dir.url("a.npy").path)
        #expect(assign.count == 100)
        for b in 0..<4 { #expect(Set(assign[(b * 25)..<(b * 25 + 25)]).count == 1) }
        #expect(Set(assign).count == 4)
        let log = try JSONSerialization.jsonObject(with: dir.readData("log.json")) as! [String: Any]
        let inertia = log["inertia"] as! [Double]
        #expect(inertia.count == 10)
        for (a, b) in zip(inertia, inertia.dropFirst()) { #expect(b <= a * (1 + 1e-6)) }
    }

    @Test func hierarchyThenBalancedSampling() throws {
        let dir = TemporaryDirectory()
        try writeNPY(blobData().rows, to: dir.url("e.npy").path)
        let r = try FlowBinary.run(["op", "kmeans", "--emb", "e.npy", "--levels", "2", "--k", "10,4", "--resample", "1,1",
                                    "--iters", "5", "--out", "h"], in: dir.path)
        try #require(r.status == 0, "\(r)")
        for level in 1...2 {
            for f in ["centroids", "assign", "offsets", "members", "distances"] { #expect(dir.exists("h/level\(level)/\(f).npy")) }
        }
        #expect(try readInt64NPY(dir.url("h/level1/members.npy").path).sorted() == Array(0..<100))
        #expect(try readInt64NPY(dir.url("h/level2/offsets.npy").path).last == 10)
        let s = try FlowBinary.run(["op", "sample-clusters", "--clusters", "h", "--target", "40", "--out", "s.npy",
                                    "--report", "s.json"], in: dir.path)
        try #require(s.status == 0, "\(s)")
        let chosen = try readInt64NPY(dir.url("s.npy").path)
        #expect(chosen.count == 40 && Set(chosen).count == 40)
        // The 4 top clusters are the 4 blobs of 25 points: each gives exactly 10.
        for b in 0..<4 { #expect(chosen.filter { $0 / 25 == b }.count == 10) }
        let report = try JSONSerialization.jsonObject(with: dir.readData("s.json")) as! [String: Any]
        let top = (report["levels"] as! [[String: Any]])[1]
        #expect(top["sizes_after"] as! [Int] == [10, 10, 10, 10])
    }

    @Test func dedupKeepsFirstOfEachComponentAndDropsReferenceComponents() throws {
        var rng = SeededGenerator(seed: 8)
        var rows = (0..<30).map { _ in (0..<64).map { _ in Float.random(in: -1...1, using: &rng) } }
        rows.append(rows[4].map { $0 + 0.05 })       // row 30 copies 4
        rows.append(rows[9].map { $0 * 2 })          // row 31: same direction as 9
        let dir = TemporaryDirectory()
        try writeNPY(rows, to: dir.url("e.npy").path)
        try writeNPY([rows[31].map { $0 + 0.02 }], to: dir.url("ref.npy").path)
        let r = try FlowBinary.run(["op", "dedup", "--emb", "e.npy", "--threshold", "0.6", "--k", "8", "--out", "keep.npy",
                                    "--report", "rep.json"], in: dir.path)
        try #require(r.status == 0, "\(r)")
        #expect(try readInt64NPY(dir.url("keep.npy").path) == Array(0..<30))
        #expect(r.stdout.contains("removed 2 duplicates"))
        let rel = try FlowBinary.run(["op", "dedup", "--emb", "e.npy", "--threshold", "0.6", "--k", "8", "--against", "ref.npy",
                                      "--against-threshold", "0.45", "--out", "keep2.npy"], in: dir.path)
        try #require(rel.status == 0, "\(rel)")
        // Row 31 is near the reference: its whole component {9, 31} goes.
        #expect(try readInt64NPY(dir.url("keep2.npy").path) == Array(0..<30).filter { $0 != 9 })
    }

    @Test func retrieveEqualsBruteForce() throws {
        var rng = SeededGenerator(seed: 4)
        let pool = (0..<70).map { _ in (0..<16).map { _ in Float.random(in: -1...1, using: &rng) } }
        let queries = (0..<9).map { _ in (0..<16).map { _ in Float.random(in: -1...1, using: &rng) } }
        let dir = TemporaryDirectory()
        try writeNPY(pool, to: dir.url("p.npy").path)
        try writeNPY(queries, to: dir.url("q.npy").path)
        let r = try FlowBinary.run(["op", "retrieve", "--query", "q.npy", "--pool", "p.npy", "--k", "4", "--block", "16",
                                    "--out", "idx.npy", "--scores", "s.npy"], in: dir.path)
        try #require(r.status == 0, "\(r)")
        let idx = try readInt64NPY(dir.url("idx.npy").path, shape: "(9, 4)")
        func cos(_ a: [Float], _ b: [Float]) -> Double {
            let ab = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let aa = a.reduce(0.0) { $0 + Double($1) * Double($1) }, bb = b.reduce(0.0) { $0 + Double($1) * Double($1) }
            return ab / (aa * bb).squareRoot()
        }
        for (i, q) in queries.enumerated() {
            let sims = pool.map { cos(q, $0) }
            let want = sims.indices.sorted { sims[$0] > sims[$1] }.prefix(4)
            #expect(Array(idx[(i * 4)..<(i * 4 + 4)]) == Array(want))
        }
        let u = try FlowBinary.run(["op", "retrieve", "--query", "q.npy", "--pool", "p.npy", "--k", "4", "--union", "--out", "u.npy"], in: dir.path)
        try #require(u.status == 0, "\(u)")
        #expect(try readInt64NPY(dir.url("u.npy").path) == Array(Set(idx)).sorted())
    }

    @Test func selectWritesChosenSamplesInInputOrder() throws {
        // Two shards of 5 samples (s000..s009, each .cls + .txt), written with GNU tar.
        let dir = TemporaryDirectory()
        for i in 0..<10 {
            try dir.write("src/s00\(i).cls", "\(i)")
            try dir.write("src/s00\(i).txt", "sample \(i)")
        }
        try FileManager.default.createDirectory(atPath: dir.url("in").path, withIntermediateDirectories: true)
        for shard in 0..<2 {
            let names = (shard * 5..<(shard * 5 + 5)).flatMap { ["s00\($0).cls", "s00\($0).txt"] }
            let t = try FlowBinary.runProgram("tar", ["-cf", "../in/part-00000\(shard).tar"] + names, in: dir.url("src").path)
            try #require(t.status == 0, "\(t)")
        }
        try writeInt64NPY([7, 1, 1, 3], to: dir.url("idx.npy").path)
        let r = try FlowBinary.run(["op", "select", "--shards", "in", "--index", "idx.npy", "--out", "out", "--max-samples", "3"], in: dir.path)
        try #require(r.status == 0, "\(r)")
        let first = try FlowBinary.runProgram("tar", ["-tf", "out/selected-000000.tar"], in: dir.path)
        let second = try FlowBinary.runProgram("tar", ["-tf", "out/selected-000001.tar"], in: dir.path)
        #expect(first.stdout.split(separator: "\n") == ["s001.cls", "s001.txt", "s001_dup1.cls", "s001_dup1.txt", "s003.cls", "s003.txt"])
        #expect(second.stdout.split(separator: "\n") == ["s007.cls", "s007.txt"])
        // Deterministic: a second run gives identical bytes.
        let again = try FlowBinary.run(["op", "select", "--shards", "in", "--index", "idx.npy", "--out", "out2", "--max-samples", "3"], in: dir.path)
        try #require(again.status == 0)
        #expect(try dir.readData("out/selected-000000.tar") == dir.readData("out2/selected-000000.tar"))
        // An index past the last sample is an error that names both files.
        try writeInt64NPY([2, 10], to: dir.url("bad.npy").path)
        let bad = try FlowBinary.run(["op", "select", "--shards", "in", "--index", "bad.npy", "--out", "out3"], in: dir.path)
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("bad.npy: entry 1 is 10 but the shards (in) hold only 10 samples"), "\(bad)")
        #expect(!dir.exists("out3/selected-000000.tar"))
    }

    @Test(arguments: [
        ("nan", ["op", "kmeans", "--emb", "nan.npy", "--k", "2", "--centroids", "c.npy", "--assign", "a.npy"],
         "nan.npy: embeddings row 1 contains NaN or infinity"),
        ("k", ["op", "kmeans", "--emb", "ok.npy", "--k", "9", "--centroids", "c.npy", "--assign", "a.npy"],
         "ok.npy: k = 9 is larger than the number of points (3)"),
        ("empty", ["op", "dedup", "--emb", "empty.npy", "--threshold", "0.6", "--out", "k.npy"],
         "empty.npy: embeddings has no rows"),
        ("dims", ["op", "retrieve", "--query", "ok.npy", "--pool", "wide.npy", "--out", "i.npy"],
         "wide.npy: pool embeddings have dimension 3 but the queries (ok.npy) have 2"),
        ("dims-ref", ["op", "dedup", "--emb", "ok.npy", "--threshold", "0.6", "--against", "wide.npy", "--out", "k.npy"],
         "wide.npy: reference embeddings have dimension 3"),
        ("missing", ["op", "sample-clusters", "--clusters", "nowhere", "--target", "3", "--out", "s.npy"],
         "nowhere/level1/offsets.npy: missing"),
    ])
    func badInputIsAClearError(name: String, args: [String], message: String) throws {
        let dir = TemporaryDirectory()
        try writeNPY([[1, 2], [3, 4], [5, 6]], to: dir.url("ok.npy").path)
        try writeNPY([[1, 2], [3, .nan], [5, 6]], to: dir.url("nan.npy").path)
        try writeNPY([[1, 2, 3]], to: dir.url("wide.npy").path)
        try writeNPY([], cols: 4, to: dir.url("empty.npy").path)
        let r = try FlowBinary.run(args, in: dir.path)
        #expect(r.status == 1, "\(name): \(r)")
        #expect(r.stderr.contains(message), "\(name): \(r.stderr)")
    }
}

// Minimal .npy v1.0 writing and reading for these tests (the op side uses FlowFormats).
func writeNPY(_ rows: [[Float]], cols: Int? = nil, to path: String) throws {
    let d = cols ?? rows.first?.count ?? 0
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows.count), \(d)), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)]
    bytes += Array(header.utf8)
    for row in rows { for v in row { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } } }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func writeInt64NPY(_ values: [Int], to path: String) throws {
    var header = "{'descr': '<i8', 'fortran_order': False, 'shape': (\(values.count),), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)]
    bytes += Array(header.utf8)
    for v in values { withUnsafeBytes(of: Int64(v).littleEndian) { bytes += $0 } }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func readInt64NPY(_ path: String, shape: String? = nil) throws -> [Int] {
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
    let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
    try #require(header.contains("'<i8'"), "\(path): \(header)")
    if let shape { try #require(header.contains("'shape': \(shape)"), "\(path): \(header)") }
    let data = bytes[(10 + headerLength)...]
    return stride(from: data.startIndex, to: data.endIndex, by: 8).map { i in
        var v: Int64 = 0
        for b in 0..<8 { v |= Int64(data[i + b]) << (8 * b) }
        return Int(v)
    }
}

extension CurationOpsTests {
    /// 3 distinct points and k = 5: two clusters end empty, and the op says so on stderr.
    @Test func kmeansWarnsOfEmptyClustersAndTooFewDistinctPoints() throws {
        let dir = TemporaryDirectory()
        try writeNPY((0..<12).map { [Float($0 % 3), 1] }, to: dir.url("e.npy").path)
        let r = try FlowBinary.run(["op", "kmeans", "--emb", "e.npy", "--k", "5", "--iters", "5",
                                    "--centroids", "c.npy", "--assign", "a.npy", "--log", "log.json"], in: dir.path)
        try #require(r.status == 0, "\(r)")
        #expect(r.stderr.contains("kmeans: warning: 2 of 5 clusters ended empty"), "\(r.stderr)")
        #expect(r.stderr.contains("kmeans: warning: the data has only 3 distinct points, fewer than k = 5"), "\(r.stderr)")
        let log = try JSONSerialization.jsonObject(with: dir.readData("log.json")) as! [String: Any]
        #expect(log["empty_clusters"] as? Int == 2)
        let fine = try FlowBinary.run(["op", "kmeans", "--emb", "e.npy", "--k", "3", "--iters", "5",
                                       "--centroids", "c.npy", "--assign", "a.npy", "--log", "log.json"], in: dir.path)
        #expect(!fine.stderr.contains("warning"), "\(fine.stderr)")
    }
}
