import Foundation
import FlowTestSupport
import Testing

/// `flow op concat` and `flow op synth-images --shard-index`, the two ops behind per-shard
/// fan-out in workflows/pretrain.dag, run as a user would.
@Suite struct ConcatOpTests {
    /// A version-1.0 .npy file of `rows` x `cols` values `descr` ('<f4', '<i8', ...), data from `fill`.
    static func npy(_ descr: String, rows: Int, cols: Int, itemSize: Int, fill: (Int) -> UInt8 = { UInt8($0 & 0xFF) }) -> Data {
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(rows), \(cols)), }"
        while (10 + header.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var d = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)])
        d += Data(header.utf8)
        d += Data((0..<(rows * cols * itemSize)).map(fill))
        return d
    }

    func keys(_ prefix: String, _ n: Int) -> String { (0..<n).map { "\(prefix)\($0)\n" }.joined() }

    @Test func joinsPartsAndKeysInOrderAndMatchesNumPy() throws {
        let dir = TemporaryDirectory("concat")
        let rows = [3, 1, 4]
        for (i, n) in rows.enumerated() {
            try dir.write(String(format: "parts/%06d.npy", i), Self.npy("<f4", rows: n, cols: 2, itemSize: 4) { UInt8(($0 * 7 + i * 31) & 0x7F) })
            try dir.write(String(format: "parts/%06d.keys.txt", i), keys("s\(i)-", n))
        }
        // A part left over from a larger run: --count must not read it.
        try dir.write("parts/000003.npy", Self.npy("<f4", rows: 5, cols: 2, itemSize: 4))
        let r = try FlowBinary.run(["op", "concat", "--pattern", "parts/%06d.npy", "--count", "3", "--out", "all.npy",
                                    "--keys", "all.keys.txt"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("concat: 3 parts, 8 rows of <f4 [2] -> all.npy"), "\(r)")
        #expect(try dir.read("all.keys.txt") == keys("s0-", 3) + keys("s1-", 1) + keys("s2-", 4))
        // The same parts given as arguments give the same bytes.
        let args = try FlowBinary.run(["op", "concat", "parts/000000.npy", "parts/000001.npy", "parts/000002.npy", "--out", "args.npy"],
                                      in: dir.path)
        #expect(args.status == 0, "\(args)")
        #expect(try dir.readData("args.npy") == dir.readData("all.npy"))

        let python = try Python.require(["numpy"])
        let script = """
            import numpy as np
            parts = [np.load('parts/%06d.npy' % i) for i in range(3)]
            np.save('ref.npy', np.concatenate(parts))
            """
        let py = try Python.run(python, script: script, in: dir.path)
        #expect(py.status == 0, "\(py)")
        #expect(try dir.readData("ref.npy") == dir.readData("all.npy"))
    }

    @Test(arguments: [
        ("dtype", "parts/000001.npy: dtype <i8 differs from <f4 of parts/000000.npy"),
        ("width", "parts/000001.npy: rows of shape [3] differ from [2] of parts/000000.npy"),
        ("keys", "parts/000001.keys.txt: 1 keys for the 2 rows of parts/000001.npy"),
        ("nokeys", "parts/000001.keys.txt: cannot read the keys of parts/000001.npy"),
        ("missing", "parts/000002.npy: no such part"),
    ])
    func badPartsAreNamed(_ fault: String, _ message: String) throws {
        let dir = TemporaryDirectory("concat-bad")
        try dir.write("parts/000000.npy", Self.npy("<f4", rows: 2, cols: 2, itemSize: 4))
        try dir.write("parts/000000.keys.txt", keys("a", 2))
        switch fault {
        case "dtype": try dir.write("parts/000001.npy", Self.npy("<i8", rows: 2, cols: 2, itemSize: 8))
        case "width": try dir.write("parts/000001.npy", Self.npy("<f4", rows: 2, cols: 3, itemSize: 4))
        default: try dir.write("parts/000001.npy", Self.npy("<f4", rows: 2, cols: 2, itemSize: 4))
        }
        if fault != "nokeys" { try dir.write("parts/000001.keys.txt", keys("b", fault == "keys" ? 1 : 2)) }
        let count = fault == "missing" ? "3" : "2"
        let r = try FlowBinary.run(["op", "concat", "--pattern", "parts/%06d.npy", "--count", count, "--out", "all.npy",
                                    "--keys", "all.keys.txt"], in: dir.path)
        #expect(r.status != 0)
        #expect(r.stderr.contains(message), "\(r)")
        #expect(!dir.exists("all.npy"))
    }

    @Test func badArgumentsAreExplained() throws {
        let dir = TemporaryDirectory("concat-args")
        for (args, message) in [
            (["--out", "x.npy"], "give the parts, or --pattern and --count"),
            (["--pattern", "p/%d.npy", "--out", "x.npy"], "--pattern needs --count"),
            (["--pattern", "p/%d-%d.npy", "--count", "2", "--out", "x.npy"], "needs exactly one integer field"),
            (["a.npy", "--pattern", "p/%d.npy", "--count", "2", "--out", "x.npy"], "not both"),
        ] {
            let r = try FlowBinary.run(["op", "concat"] + args, in: dir.path)
            #expect(r.status != 0 && r.stderr.contains(message), "\(args): \(r)")
        }
    }

    /// Each shard written alone is byte for byte the shard of the whole set, and writing one
    /// shard leaves the other files of the directory alone.
    @Test func oneShardAtATimeEqualsTheWholeSet() throws {
        let dir = TemporaryDirectory("synth-shard")
        let common = ["--classes", "5", "--size", "16", "--seed", "7", "--prefix", "pool"]
        var r = try FlowBinary.run(["op", "synth-images", "--count", "30", "--shards", "3", "--out", "whole"] + common, in: dir.path)
        #expect(r.status == 0, "\(r)")
        try dir.write("parts/keep.txt", "untouched\n")
        for i in [2, 0, 1, 3] {
            r = try FlowBinary.run(["op", "synth-images", "--per-shard", "10", "--shard-index", "\(i)", "--out", "parts"] + common,
                                   in: dir.path)
            #expect(r.status == 0, "\(r)")
        }
        for i in 0..<3 {
            let name = String(format: "pool-%06d.tar", i)
            #expect(try dir.readData("whole/" + name) == dir.readData("parts/" + name), "\(name)")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/parts").sorted()
        #expect(names == ["keep.txt", "pool-000000.tar", "pool-000001.tar", "pool-000002.tar", "pool-000003.tar"])
        r = try FlowBinary.run(["op", "synth-images", "--shard-index", "1", "--count", "5", "--out", "x"], in: dir.path)
        #expect(r.status != 0 && r.stderr.contains("drop --count and --shards"), "\(r)")
        r = try FlowBinary.run(["op", "synth-images", "--shard-index", "1", "--out", "x"], in: dir.path)
        #expect(r.status != 0 && r.stderr.contains("--shard-index needs --per-shard"), "\(r)")
    }
}
