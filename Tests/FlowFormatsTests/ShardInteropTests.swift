import Foundation
import Testing
import FlowFormats
import FlowTestSupport

/// Python's webdataset and tarfile read flow's shards, and flow reads theirs.
/// Skipped, with a printed reason, when the interpreter lacks webdataset.
@Suite struct ShardInteropTests {
    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// key -> ext -> hex of bytes, from JSON text printed by a script.
    func decode(_ json: String) throws -> [[String: String]] {
        let data = Data(json.utf8)
        return try JSONSerialization.jsonObject(with: data) as? [[String: String]] ?? []
    }

    func manifest(_ samples: [Sample]) -> [[String: String]] {
        samples.map { s in
            var row = ["__key__": s.key]
            for (ext, bytes) in s.entries { row[ext] = hex(bytes) }
            return row
        }
    }

    @Test func pythonReadsFlowShards() throws {
        let python = try Python.require(["webdataset"])
        let dir = TemporaryDirectory("interop")
        let samples = makeSamples(12, seed: 3)
        let writer = try ShardWriter(directory: dir.path, prefix: "f", maxSamples: 5)
        for s in samples { try writer.write(s) }
        let paths = try writer.finish()
        let script = """
        import sys, json, tarfile, webdataset as wds
        paths = sys.argv[1:]
        out = []
        for s in wds.WebDataset(paths, shardshuffle=False):
            row = {"__key__": s["__key__"]}
            for k, v in s.items():
                if not k.startswith("__"): row[k] = v.hex()
            out.append(row)
        for p in paths:
            with tarfile.open(p) as t:
                for m in t.getmembers():
                    assert m.isreg() and m.mode == 0o444 and m.uname == "bigdata" and m.gname == "bigdata", m
                    assert m.mtime == 946684800 and m.uid == 0 and m.gid == 0, m
        print(json.dumps(out))
        """
        let result = try Python.run(python, script: script, in: dir.path, args: paths)
        #expect(result.status == 0, "\(result)")
        guard result.status == 0 else { return }
        #expect(try decode(result.stdout) == manifest(samples))
    }

    @Test func flowReadsPythonShards() throws {
        let python = try Python.require(["webdataset"])
        let dir = TemporaryDirectory("interop")
        // webdataset's ShardWriter (pax headers, float mtimes), then tarfile in GNU and pax formats with
        // a name longer than 100 bytes and non-ASCII keys, plus a directory and a metadata entry.
        let script = """
        import io, json, random, tarfile, webdataset as wds
        rng = random.Random(5)
        out = []
        with wds.ShardWriter("py-%06d.tar", maxcount=4, verbose=0) as w:
            for i in range(10):
                s = {"__key__": f"k{i:03d}", "jpg": bytes(rng.randrange(256) for _ in range(300 + i)), "cls": i % 3}
                w.write(s)
                out.append({"__key__": s["__key__"], "jpg": s["jpg"].hex(), "cls": str(i % 3).encode().hex()})
        long_key = "d/" + "x" * 120
        for fmt, name in [(tarfile.GNU_FORMAT, "q-gnu-000000.tar"), (tarfile.PAX_FORMAT, "r-pax-000000.tar")]:
          with tarfile.open(name, "w", format=fmt) as t:
            def add(name, data, kind=tarfile.REGTYPE):
                ti = tarfile.TarInfo(name); ti.size = len(data); ti.type = kind
                t.addfile(ti, io.BytesIO(data))
            add("d", b"", tarfile.DIRTYPE)
            add("__meta__/info.json", b"{}")
            for key in [long_key, "d/caf\\u00e9", "e/na\\u00efve"]:
                add(key + ".TXT", key.encode())
                add(key + ".cls", b"7")
                out.append({"__key__": key, "txt": key.encode().hex(), "cls": b"7".hex()})
        print(json.dumps(out))
        """
        let result = try Python.run(python, script: script, in: dir.path)
        #expect(result.status == 0, "\(result)")
        guard result.status == 0 else { return }
        let paths = try Shards.expand(dir.path)
        #expect(paths.count == 5)
        #expect(manifest(try readAll(paths)) == (try decode(result.stdout)))
    }
}
