import Foundation
import FlowTestSupport
import Testing

/// `flow op eval-knn` and `flow op eval-linear`, run as a user would: synthetic labelled
/// shards, a randomly initialised tiny ViT, metrics JSON whose accuracies match an independent
/// computation, clear errors.
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
        // LayerScale 1: with the default 1e-5 every class token is the same vector to 1e-11 in
        // cosine, and every neighbour's weight the same in float32.
        let m = try FlowBinary.run(["op", "init-vit", "--arch", "vit-test", "--patch", "4", "--image-size", "16",
                                    "--layerscale", "1", "--seed", "3", "--out", "m.safetensors"], in: dir.path)
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
        // The same accuracies from `flow op embed`'s features and the shards' labels, voted
        // here in Double: cosine top-k, weights softmax(sim / 0.07) over the 160 neighbours.
        let trainSet = try embedded(dir, "train"), valSet = try embedded(dir, "val")
        for r in results {
            let kk = try #require(r["k"] as? Int)
            let (top1, top5) = knnCorrect(train: trainSet, val: valSet, k: kk, neighbours: 160, temperature: 0.07)
            #expect(r["correct_top1"] as? Int == top1, "k = \(kk): \(r), independent top-1 \(top1)")
            #expect(r["correct_top5"] as? Int == top5, "k = \(kk): \(r), independent top-5 \(top5)")
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

    /// 4 classes in 8-d, far apart (class c around 5·e_c), 20 train and 10 val points each; 6
    /// val labels are wrong by design. Any working k-NN or linear probe is right on exactly the
    /// 34 others, at every k: the accuracy is known without running either.
    @Test func designedFeaturesGiveTheKnownAccuracy() throws {
        let dir = TemporaryDirectory("eval-designed")
        var rng = SeededGenerator(seed: 21)
        func point(_ c: Int) -> [Float] { (0..<8).map { ($0 == c ? 5 : 0) + Float.random(in: -0.5...0.5, using: &rng) } }
        let train = (0..<80).map { point($0 / 20) }, trainY = (0..<80).map { $0 / 20 }
        let val = (0..<40).map { point($0 / 10) }
        var valY = (0..<40).map { $0 / 10 }
        for i in [0, 7, 15, 22, 31, 39] { valY[i] = (valY[i] + 1) % 4 }
        try dir.write("tx.npy", npy(float32: train.flatMap { $0 }, shape: [80, 8]))
        try dir.write("ty.npy", npy(int64: trainY.map(Int64.init)))
        try dir.write("vx.npy", npy(float32: val.flatMap { $0 }, shape: [40, 8]))
        try dir.write("vy.npy", npy(int64: valY.map(Int64.init)))
        let inputs = ["--train-emb", "tx.npy", "--train-labels", "ty.npy", "--val-emb", "vx.npy", "--val-labels", "vy.npy"]
        let knn = try FlowBinary.run(["op", "eval-knn", "--k", "1,5,20"] + inputs + ["--out", "k.json"], in: dir.path)
        #expect(knn.status == 0, "\(knn)")
        let r = try #require((try json(dir, "k.json"))["results"] as? [[String: Any]])
        #expect(r.map { $0["correct_top1"] as? Int } == [34, 34, 34], "\(r)")
        #expect(r.allSatisfy { abs(($0["top1"] as? Double ?? 0) - 34.0 / 40) < 1e-12 }, "\(r)")
        let lin = try FlowBinary.run(["op", "eval-linear", "--lrs", "0.1,1", "--iterations", "200", "--batch-size", "16"] + inputs
                                     + ["--out", "l.json"], in: dir.path)
        #expect(lin.status == 0, "\(lin)")
        let l = try json(dir, "l.json")
        #expect(l["val_correct_top1"] as? Int == 34, "\(l)")
        #expect(abs((l["val_top1"] as? Double ?? 0) - 34.0 / 40) < 1e-12, "\(l)")
    }

    /// The reference protocol: last 1 or 2 blocks (vit-test has 2) with and without the patch
    /// average, every rate, all trained on 2 augmented views of each train image, best on val.
    @Test func linearWithTheReferenceProtocol() throws {
        let dir = TemporaryDirectory("eval-dinov2")
        try setUp(dir)
        let r = try FlowBinary.run(["op", "eval-linear", "--model", "m.safetensors", "--train", "train", "--val", "val",
                                    "--protocol", "dinov2", "--augment-views", "2", "--iterations", "60", "--batch-size", "32",
                                    "--lrs", "0.1,1", "--out", "l.json"], in: dir.path)
        try #require(r.status == 0, "\(r)")
        let l = try json(dir, "l.json")
        #expect(l["train_count"] as? Int == 320 && l["val_count"] as? Int == 80)
        let grid = try #require(l["grid"] as? [[String: Any]])
        #expect(grid.map { "\($0["blocks"]!)/\($0["average_pool"]!)/\($0["feature_dim"]!)" }
                == ["1/0/32", "1/0/32", "1/1/64", "1/1/64", "2/0/64", "2/0/64", "2/1/96", "2/1/96"])   // JSON booleans read back as 0/1
        let best = grid.map { $0["val_top1"] as! Double }.max()!
        #expect(l["val_top1"] as? Double == best)
        #expect((l["chosen"] as? [String: Any])?["val_top1"] as? Double == best)
        #expect(abs(Double(l["val_correct_top1"] as! Int) / 80 - best) < 1e-12)
        let bad = try FlowBinary.run(["op", "eval-linear", "--train-emb", "x.npy", "--train-labels", "y.npy", "--val-emb", "x.npy",
                                      "--val-labels", "y.npy", "--protocol", "dinov2", "--out", "x.json"], in: dir.path)
        #expect(bad.status != 0 && bad.stderr.contains("--protocol dinov2 and --augment-views embed the images themselves"), "\(bad)")
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

    /// `flow op embed` features (class tokens) of a split and the labels of its shards' .cls entries.
    func embedded(_ dir: TemporaryDirectory, _ split: String) throws -> (x: [[Double]], y: [Int]) {
        let r = try FlowBinary.run(["op", "embed", "--model", "m.safetensors", "--shards", split, "--out", "\(split).npy"], in: dir.path)
        try #require(r.status == 0, "\(r)")
        let raw = try dir.readData("\(split).npy")
        let headerLength = Int(raw[8]) | Int(raw[9]) << 8
        let floats = raw.dropFirst(10 + headerLength).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let keys = try dir.read("\(split).keys.txt").split(separator: "\n").map(String.init)
        let d = floats.count / keys.count
        try FileManager.default.createDirectory(atPath: dir.url("\(split)-x").path, withIntermediateDirectories: true)
        for shard in try FileManager.default.contentsOfDirectory(atPath: dir.url(split).path) where shard.hasSuffix(".tar") {
            let t = try FlowBinary.runProgram("tar", ["-xf", "\(split)/\(shard)", "-C", "\(split)-x"], in: dir.path)
            try #require(t.status == 0, "\(t)")
        }
        let labels = try keys.map { key -> Int in
            try #require(Int(try dir.read("\(split)-x/\(key).cls").trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        let rows = (0..<keys.count).map { i in Array(floats[(i * d)..<((i + 1) * d)]).map(Double.init) }
        return (rows, labels)
    }

    /// Correct top-1 and top-5 counts of DINOv2's weighted k-NN, computed plainly in Double.
    func knnCorrect(train: (x: [[Double]], y: [Int]), val: (x: [[Double]], y: [Int]), k: Int, neighbours: Int,
                    temperature: Double) -> (Int, Int) {
        func unit(_ v: [Double]) -> [Double] { let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot(); return v.map { $0 / n } }
        let tx = train.x.map(unit)
        let classes = (train.y + val.y).max()! + 1
        var top1 = 0, top5 = 0
        for (q, label) in zip(val.x.map(unit), val.y) {
            let sims = tx.map { zip($0, q).reduce(0) { $0 + $1.0 * $1.1 } }
            let order = sims.indices.sorted { sims[$0] > sims[$1] || (sims[$0] == sims[$1] && $0 < $1) }.prefix(neighbours)
            let m = sims[order.first!]
            let z = order.reduce(0.0) { $0 + exp((sims[$1] - m) / temperature) }
            var scores = [Double](repeating: 0, count: classes)
            for j in order.prefix(k) { scores[train.y[j]] += exp((sims[j] - m) / temperature) / z }
            let ranked = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
            if ranked[0] == label { top1 += 1 }
            if ranked.prefix(5).contains(label) { top5 += 1 }
        }
        return (top1, top5)
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
