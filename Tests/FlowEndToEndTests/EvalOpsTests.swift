import Foundation
import FlowTestSupport
import Testing

/// `flow op eval-knn` and `flow op eval-linear`, run as a user would: synthetic labelled
/// shards, a randomly initialised tiny ViT, metrics JSON with sane numbers, clear errors.
@Suite struct EvalOpsTests {
    func json(_ dir: TemporaryDirectory, _ name: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: dir.readData(name)) as? [String: Any])
    }

    /// 160 train and 80 val images of 6 shape classes (different seeds), and a vit-test model.
    func setUp(_ dir: TemporaryDirectory) throws {
        for (split, count, seed) in [("train", "160", "1"), ("val", "80", "2")] {
            let r = try FlowBinary.run(["op", "synth-images", "--count", count, "--classes", "6", "--size", "16",
                                        "--seed", seed, "--shards", "2", "--out", split, "--prefix", split], in: dir.path)
            #expect(r.status == 0, "\(r)")
        }
        let m = try FlowBinary.run(["op", "init-vit", "--arch", "vit-test", "--patch", "4", "--image-size", "16",
                                    "--seed", "3", "--out", "m.safetensors"], in: dir.path)
        #expect(m.status == 0, "\(m)")
    }

    @Test func knnAndLinearWriteMetrics() throws {
        let dir = TemporaryDirectory("eval-ops")
        try setUp(dir)
        let knn = try FlowBinary.run(["op", "eval-knn", "--model", "m.safetensors", "--train", "train", "--val", "val",
                                      "--k", "1,10,20,200", "--out", "knn.json"], in: dir.path)
        #expect(knn.status == 0, "\(knn)")
        let k = try json(dir, "knn.json")
        #expect(k["train_count"] as? Int == 160 && k["val_count"] as? Int == 80)
        #expect(k["classes"] as? Int == 6 && k["feature_dim"] as? Int == 32)
        #expect(k["neighbors"] as? Int == 160)
        #expect(k["model"] as? String == "m.safetensors")
        #expect((k["architecture"] as? [String: Any]) != nil)
        let results = try #require(k["results"] as? [[String: Any]])
        #expect(results.map { $0["k"] as? Int } == [1, 10, 20, 160])
        for r in results {
            let top1 = try #require(r["top1"] as? Double), top5 = try #require(r["top5"] as? Double)
            #expect(top1 >= 0 && top1 <= top5 && top5 <= 1, "\(r)")
            #expect(r["total"] as? Int == 80)
        }
        print("eval-knn on a random-init vit-test: \(knn.stdout)")

        let args = ["op", "eval-linear", "--model", "m.safetensors", "--train", "train", "--val", "val",
                    "--pool", "cls+mean", "--iterations", "150", "--batch-size", "32", "--lrs", "0.1,1,10",
                    "--seed", "4"]
        let lin = try FlowBinary.run(args + ["--out", "lin.json"], in: dir.path)
        #expect(lin.status == 0, "\(lin)")
        let l = try json(dir, "lin.json")
        #expect(l["feature_dim"] as? Int == 64)
        #expect(l["holdout_count"] as? Int == 32 && l["fit_count"] as? Int == 128)
        #expect((l["grid"] as? [[String: Any]])?.count == 3)
        let chosen = try #require(l["chosen_lr"] as? Double)
        let candidates: [Double] = [0.1 / 8, 1.0 / 8, 10.0 / 8]  // × batch-size 32 / 256
        #expect(candidates.contains { (c: Double) -> Bool in abs(c - chosen) < 1e-6 })
        let val = try #require(l["val_top1"] as? Double)
        #expect(val >= 0 && val <= 1)
        print("eval-linear on a random-init vit-test: \(lin.stdout)")
        // Same seed and threads: the same bytes.
        let again = try FlowBinary.run(args + ["--out", "lin2.json"], in: dir.path)
        #expect(again.status == 0, "\(again)")
        #expect(try dir.readData("lin.json") == dir.readData("lin2.json"))
    }

    @Test func precomputedFeaturesPlantedClusters() throws {
        let dir = TemporaryDirectory("eval-npy")
        // Two classes at opposite corners of the plane; val labels follow the clusters except
        // the last one, which is mislabelled: exactly 5 of 6 must be right.
        let train: [[Float]] = [[1, 0.1], [1, -0.1], [0.9, 0], [-1, 0.1], [-1, -0.1], [-0.9, 0]]
        let val: [[Float]] = [[1, 0.05], [0.8, 0], [1, 0], [-1, 0.05], [-0.8, 0], [-1, 0]]
        try dir.write("tx.npy", npy(float32: train.flatMap { $0 }, shape: [6, 2]))
        try dir.write("ty.npy", npy(int64: [0, 0, 0, 1, 1, 1]))
        try dir.write("vx.npy", npy(float32: val.flatMap { $0 }, shape: [6, 2]))
        try dir.write("vy.npy", npy(int64: [0, 0, 0, 1, 1, 0]))
        let inputs = ["--train-emb", "tx.npy", "--train-labels", "ty.npy", "--val-emb", "vx.npy", "--val-labels", "vy.npy"]
        let knn = try FlowBinary.run(["op", "eval-knn", "--k", "3"] + inputs + ["--out", "k.json"], in: dir.path)
        #expect(knn.status == 0, "\(knn)")
        let r = try #require((try json(dir, "k.json"))["results"] as? [[String: Any]])
        #expect(r.first?["correct_top1"] as? Int == 5)
        let lin = try FlowBinary.run(["op", "eval-linear", "--lrs", "10", "--holdout", "0", "--iterations", "50"] + inputs
                                     + ["--out", "l.json"], in: dir.path)
        #expect(lin.status == 0, "\(lin)")
        #expect((try json(dir, "l.json"))["val_correct_top1"] as? Int == 5)
    }

    @Test func badInputsGiveClearErrors() throws {
        let dir = TemporaryDirectory("eval-bad")
        try setUp(dir)
        func fails(_ args: [String], _ expected: String) throws {
            let r = try FlowBinary.run(args, in: dir.path)
            #expect(r.status != 0, "\(args) succeeded")
            #expect(r.stderr.contains(expected), "\(args): \(r.stderr)")
        }
        // Samples without a label, and with a label that is not a class index.
        try dir.write("nolabel/a.txt", "hello")
        try dir.write("badlabel/b.cls", "cat")
        for (name, file) in [("nolabel", "a.txt"), ("badlabel", "b.cls")] {
            let tar = try FlowBinary.runProgram("tar", ["-cf", "\(name).tar", "-C", name, file], in: dir.path)
            #expect(tar.status == 0, "\(tar)")
        }
        try fails(["op", "eval-knn", "--model", "m.safetensors", "--train", "nolabel.tar", "--val", "val", "--out", "x.json"],
                  "nolabel.tar: sample 'a' has no .cls entry")
        try fails(["op", "eval-linear", "--model", "m.safetensors", "--train", "train", "--val", "badlabel.tar", "--out", "x.json"],
                  "badlabel.tar: sample 'b': its .cls entry 'cat' is not a class index")
        try fails(["op", "eval-knn", "--model", "m.safetensors", "--train", "train", "--out", "x.json"],
                  "give --model, --train and --val together")
        try fails(["op", "eval-knn", "--model", "m.safetensors", "--train", "train", "--val", "val", "--k", "0,5",
                   "--out", "x.json"], "--k must list positive integers")
        try fails(["op", "eval-linear", "--model", "m.safetensors", "--train", "train", "--val", "val", "--holdout", "0",
                   "--out", "x.json"], "--holdout 0 leaves nothing to choose")
        try fails(["op", "eval-linear", "--model", "m.safetensors", "--train", "train", "--val", "val", "--lrs", "0.1,abc",
                   "--out", "x.json"], "--lrs must list positive numbers")
        try fails(["op", "eval-knn", "--model", "missing.safetensors", "--train", "train", "--val", "val", "--out", "x.json"],
                  "missing.safetensors")
        try fails(["op", "eval-knn", "--model", "m.safetensors", "--train", "nothing-here", "--val", "val", "--out", "x.json"],
                  "nothing-here")
    }

    func npy(float32 values: [Float], shape: [Int]) -> Data {
        npy("<f4", shape, values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
    }

    func npy(int64 values: [Int64]) -> Data {
        npy("<i8", [values.count], values.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) })
    }

    /// A version 1.0 .npy file: magic, header padded to 64 bytes, raw data.
    func npy(_ descr: String, _ shape: [Int], _ bytes: [UInt8]) -> Data {
        let dims = shape.count == 1 ? "\(shape[0])," : shape.map(String.init).joined(separator: ", ")
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(dims)), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var d = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        d.append(contentsOf: [UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        d.append(contentsOf: Array(header.utf8) + bytes)
        return d
    }
}
