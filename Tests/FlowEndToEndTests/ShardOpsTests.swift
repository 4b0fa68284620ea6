import Foundation
import Testing
import FlowTestSupport

/// `flow op pack` and `flow op shards` run as a user would, through the built binary.
@Suite struct ShardOpsTests {
    /// An ImageFolder tree: 2 classes, 5 "images" (arbitrary bytes: pack does not decode).
    func makeImageFolder(_ dir: TemporaryDirectory) throws {
        try dir.write("img/dog/b.JPG", "dog-b")
        try dir.write("img/dog/a.v2.jpg", "dog-a")
        try dir.write("img/cat/z.png", "cat-z")
        try dir.write("img/cat/y.png", "cat-y")
        try dir.write("img/cat/x.jpeg", "cat-x")
        try dir.write("img/cat/notes.txt", "skipped")
        try dir.write("img/.hidden/q.jpg", "skipped")
    }

    @Test func packThenInspect() throws {
        let dir = TemporaryDirectory("e2e-pack")
        try makeImageFolder(dir)
        let pack = try FlowBinary.run(["op", "pack", "img", "--out", "shards", "--per-shard", "2"], in: dir.path)
        #expect(pack.status == 0, "\(pack)")
        #expect(pack.stdout.contains("5 samples in 2 classes into 3 shards"))
        let classes = try JSONSerialization.jsonObject(with: try dir.readData("shards/classes.json")) as? [String: Any]
        #expect(classes?["classes"] as? [String] == ["cat", "dog"])
        #expect(classes?["counts"] as? [Int] == [3, 2])

        let info = try FlowBinary.run(["op", "shards", "info", "shards", "--json"], in: dir.path)
        #expect(info.status == 0, "\(info)")
        let counts = try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any]
        #expect(counts?["shards"] as? Int == 3 && counts?["samples"] as? Int == 5 && counts?["classes"] as? Int == 2)
        #expect(counts?["payload_bytes"] as? Int == 5 * 5 + 5)

        let ls = try FlowBinary.run(["op", "shards", "ls", "shards/shard-*.tar"], in: dir.path)
        #expect(ls.stdout == """
        shards/shard-000000.tar\tcat_x\tcls:1 jpeg:5
        shards/shard-000000.tar\tcat_y\tcls:1 png:5
        shards/shard-000001.tar\tcat_z\tcls:1 png:5
        shards/shard-000001.tar\tdog_a_v2\tcls:1 jpg:5
        shards/shard-000002.tar\tdog_b\tcls:1 jpg:5

        """)
        let cat = try FlowBinary.run(["op", "shards", "cat", "shards", "dog_b", "JPG"], in: dir.path)
        #expect(cat.status == 0 && cat.stdout == "dog-b")
        let label = try FlowBinary.run(["op", "shards", "cat", "shards/shard-000001.tar", "dog_a_v2", "cls"], in: dir.path)
        #expect(label.stdout == "1")
    }

    @Test func packIsDeterministicAndReplacesStaleShards() throws {
        let dir = TemporaryDirectory("e2e-pack")
        try makeImageFolder(dir)
        #expect(try FlowBinary.run(["op", "pack", "img", "--out", "a", "--per-shard", "1", "--lz4"], in: dir.path).status == 0)
        #expect(try FlowBinary.run(["op", "pack", "img", "--out", "b", "--per-shard", "2", "--lz4"], in: dir.path).status == 0)
        // Repack b with the settings of a: the three old shards of b must go.
        #expect(try FlowBinary.run(["op", "pack", "img", "--out", "b", "--per-shard", "1", "--lz4"], in: dir.path).status == 0)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/b").sorted()
        #expect(names == ["classes.json"] + (0..<5).map { "shard-00000\($0).tar.lz4" })
        for name in names {
            #expect(try dir.readData("a/" + name) == (try dir.readData("b/" + name)), "\(name) differs")
        }
    }

    @Test func errorsNameTheFileAndExitNonZero() throws {
        let dir = TemporaryDirectory("e2e-pack")
        try makeImageFolder(dir)
        try dir.write("img/dog/b.png", "dog-b again")
        let clash = try FlowBinary.run(["op", "pack", "img", "--out", "s"], in: dir.path)
        #expect(clash.status != 0)
        #expect(clash.stderr.contains("img/dog/b.JPG and img/dog/b.png both give the sample key 'dog_b'"), "\(clash)")

        let missing = try FlowBinary.run(["op", "pack", "nothere", "--out", "s"], in: dir.path)
        #expect(missing.status != 0 && missing.stderr.contains("nothere: not a directory"), "\(missing)")

        try dir.write("bad.tar", String(repeating: "x", count: 1500))
        let bad = try FlowBinary.run(["op", "shards", "info", "bad.tar"], in: dir.path)
        #expect(bad.status != 0 && bad.stderr.contains("bad.tar: cannot open shard"), "\(bad)")

        let noKey = try FlowBinary.run(["op", "shards", "cat", "bad*.tar", "k", "jpg"], in: dir.path)
        #expect(noKey.status != 0 && !noKey.stderr.isEmpty)

        let none = try FlowBinary.run(["op", "shards", "ls", "empty-*.tar"], in: dir.path)
        #expect(none.status != 0 && none.stderr.contains("empty-*.tar: no such file, and no shards match"), "\(none)")
    }
}
