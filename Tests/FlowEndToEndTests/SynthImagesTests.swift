import Foundation
import Testing
import FlowTestSupport

/// `flow op synth-images` and `flow op decode-check`, run as a user would.
@Suite struct SynthImagesTests {
    func files(_ dir: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir) {
            out[name] = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
        }
        return out
    }

    @Test func sameArgumentsGiveSameBytes() throws {
        let dir = TemporaryDirectory("synth")
        let args = ["op", "synth-images", "--count", "50", "--classes", "5", "--size", "16", "--seed", "3", "--shards", "2"]
        var r = try FlowBinary.run(args + ["--out", "a", "--threads", "1"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        r = try FlowBinary.run(args + ["--out", "b", "--threads", "2"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        r = try FlowBinary.run(args.dropLast(4) + ["--seed", "4", "--shards", "2", "--out", "c"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        let a = try files(dir.path + "/a"), b = try files(dir.path + "/b"), c = try files(dir.path + "/c")
        #expect(Set(a.keys) == ["classes.json", "synth-000000.tar", "synth-000001.tar"])
        #expect(a == b)
        #expect(a["synth-000000.tar"] != c["synth-000000.tar"])
        let classes = try dir.read("a/classes.json")
        #expect(classes.hasPrefix("{\"classes\": [\"circle\", \"square\", \"triangle\", \"ring\", \"plus\"], \"count\": 50"))
    }

    @Test func jpegSetDecodesAndCorruptImageIsNamed() throws {
        let dir = TemporaryDirectory("synth-jpg")
        var r = try FlowBinary.run(["op", "synth-images", "--count", "12", "--size", "24", "--format", "jpg", "--out", "jpg"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        r = try FlowBinary.run(["op", "decode-check", "jpg", "--report", "ok.json"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("decode-check: 12 images in 1 shards, 0 failed"))
        #expect(try dir.read("ok.json").contains("\"images\": 12"))

        // Corrupt the first PNG's pixel data: libpng's CRC check fails.
        r = try FlowBinary.run(["op", "synth-images", "--count", "3", "--size", "16", "--out", "png"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        let shard = dir.path + "/png/synth-000000.tar"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: shard)))
        let sig: [UInt8] = [0x89, 0x50, 0x4E, 0x47]
        guard let at = (0..<(bytes.count - 4)).first(where: { Array(bytes[$0..<($0 + 4)]) == sig }) else {
            Issue.record("no PNG in \(shard)")
            return
        }
        bytes[at + 60] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: shard))
        r = try FlowBinary.run(["op", "decode-check", "png/synth-000000.tar"], in: dir.path)
        #expect(r.status != 0)
        #expect(r.stderr.contains("png/synth-000000.tar: sample 00000000: cannot decode image: libpng: "), "\(r)")
        #expect(r.stdout.contains("3 images in 1 shards, 1 failed"), "\(r)")
    }

    @Test func badArgumentsAreExplained() throws {
        let dir = TemporaryDirectory("synth-bad")
        var r = try FlowBinary.run(["op", "synth-images", "--classes", "17", "--out", "x"], in: dir.path)
        #expect(r.status != 0 && r.stderr.contains("--classes must be 1 to 16"), "\(r)")
        r = try FlowBinary.run(["op", "synth-images", "--format", "gif", "--out", "x"], in: dir.path)
        #expect(r.status != 0 && r.stderr.contains("The value 'gif' is invalid for '--format <format>'. Please provide one of 'png' and 'jpg'."), "\(r)")
        r = try FlowBinary.run(["op", "decode-check", "nothing-here/*.tar"], in: dir.path)
        #expect(r.status != 0, "\(r)")
        try dir.write("bad.tar", "not a tar file")
        r = try FlowBinary.run(["op", "decode-check", "bad.tar"], in: dir.path)
        #expect(r.status != 0 && r.stderr.contains("bad.tar") && r.stdout.contains("0 images in 1 shards, 1 failed"), "\(r)")
    }

    /// A raw-pixel 1-nearest-neighbour classifier should do poorly: the class is structure,
    /// not colour or position. Leave-one-out over 320 images of 8 classes (chance 12.5%),
    /// computed by NumPy on the PNGs read back with Pillow.
    @Test func rawPixelNearestNeighbourIsWeak() throws {
        let python = try Python.require(["numpy", "PIL"])
        let dir = TemporaryDirectory("synth-knn")
        let r = try FlowBinary.run(["op", "synth-images", "--count", "320", "--classes", "8", "--size", "16", "--out", "s"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        let script = """
        import tarfile, io, glob, numpy as np
        from PIL import Image
        X, y = [], []
        for path in sorted(glob.glob('s/*.tar')):
            t = tarfile.open(path); files = {m.name: t.extractfile(m).read() for m in t.getmembers()}
            for name in sorted(files):
                if name.endswith('.png'):
                    X.append(np.asarray(Image.open(io.BytesIO(files[name])).convert('RGB'), dtype=np.float64).ravel())
                    y.append(int(files[name[:-4] + '.cls']))
        X = np.array(X); y = np.array(y)
        d = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1); np.fill_diagonal(d, np.inf)
        print(len(y), (y[d.argmin(1)] == y).mean())
        """
        let out = try Python.run(python, script: script, in: dir.path)
        #expect(out.status == 0, "\(out)")
        let parts = out.stdout.split(separator: " ").map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) }
        guard parts.count == 2, let accuracy = Double(parts[1]) else {
            Issue.record("unexpected output \(out)")
            return
        }
        print("synth-images: raw-pixel leave-one-out 1-NN accuracy \(accuracy) on \(parts[0]) images, 8 classes (chance 0.125)")
        #expect(parts[0] == "320")
        #expect(accuracy < 0.35, "raw pixels separate the classes too well: 1-NN accuracy \(accuracy)")
    }
}
