import Foundation
import FlowTestSupport
import Testing

/// `flow op pretrain` as a user runs it: outputs other ops load, a log line per step, exact
/// resume after kill -9 of flow, corrupt and foreign checkpoints, divergence, bad input.
@Suite(.serialized) struct PretrainOpTests {
    /// A tiny run: vit-test on 16-px crops, 48 images, batch 8 (6 steps an epoch).
    static let tiny = ["--arch", "vit-test", "--patch", "4", "--image-size", "16", "--local-crops", "2",
                       "--local-size", "8", "--batch", "8", "--prototypes", "32", "--head-hidden", "32",
                       "--head-bottleneck", "16", "--warmup-epochs", "1", "--teacher-temp-warmup-epochs", "1",
                       "--threads", "2"]
    static let outputs = ["--model-out", "teacher.safetensors", "--state-out", "state.safetensors", "--log", "train.jsonl"]

    func data(_ dir: TemporaryDirectory, count: Int = 48) throws {
        let r = try FlowBinary.run(["op", "synth-images", "--count", String(count), "--classes", "4", "--size", "16",
                                    "--seed", "1", "--shards", "2", "--out", "data", "--prefix", "train"], in: dir.path)
        #expect(r.status == 0, "\(r)")
    }

    func logSteps(_ dir: TemporaryDirectory, _ name: String = "train.jsonl") throws -> [[String: Any]] {
        try dir.read(name).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    @Test func writesAModelTheEvalOpsLoadAndALogLinePerStep() throws {
        let dir = TemporaryDirectory("pretrain-op")
        try data(dir)
        let r = try FlowBinary.run(["op", "pretrain", "--data", "data", "--epochs", "2"] + Self.tiny + Self.outputs, in: dir.path)
        #expect(r.status == 0, "\(r)")
        let log = try logSteps(dir)
        #expect(log.map { $0["step"] as? Int } == Array(1...12).map { $0 })
        for key in ["step", "epoch", "loss", "dino", "ibot", "koleo", "lr", "wd", "momentum", "teacher_temp", "images_per_s"] {
            #expect(log.allSatisfy { $0[key] != nil }, "missing \(key)")
        }
        #expect(log.last?["epoch"] as? Int == 2)
        // The model is a plain backbone: embed and eval-knn load it.
        let knn = try FlowBinary.run(["op", "eval-knn", "--model", "teacher.safetensors", "--train", "data", "--val", "data",
                                      "--k", "5", "--out", "knn.json"], in: dir.path)
        #expect(knn.status == 0, "\(knn)")
        let embed = try FlowBinary.run(["op", "embed", "--model", "teacher.safetensors", "--shards", "data", "--out", "e.npy"], in: dir.path)
        #expect(embed.status == 0, "\(embed)")
        // The same arguments give the same bytes.
        let again = try FlowBinary.run(["op", "pretrain", "--data", "data", "--epochs", "2"] + Self.tiny
                                       + ["--model-out", "t2.safetensors", "--state-out", "s2.safetensors", "--log", "l2.jsonl"], in: dir.path)
        #expect(again.status == 0, "\(again)")
        #expect(try dir.readData("teacher.safetensors") == dir.readData("t2.safetensors"))
        #expect(try dir.readData("state.safetensors") == dir.readData("s2.safetensors"))
    }

    static let dag = """
        step train
          in data/train-000000.tar data/train-000001.tar
          out teacher.safetensors state.safetensors train.jsonl
          checkpoint
          cpus 2
          op pretrain --data data --epochs 5 --checkpoint-every 2 \(tiny.joined(separator: " ")) \(outputs.joined(separator: " "))
        """

    @Test func killedFlowResumesFromTheCheckpointToTheSameBytes() throws {
        let reference = TemporaryDirectory("pretrain-ref")
        try data(reference)
        try reference.write("flow.dag", Self.dag)
        let r = try FlowBinary.run(["run"], in: reference.path)
        #expect(r.status == 0, "\(r)")

        let dir = TemporaryDirectory("pretrain-kill")
        try data(dir)
        try dir.write("flow.dag", Self.dag)
        let flow = try BackgroundFlow(["run"], in: dir.path)
        let checkpoints = dir.path + "/cache/checkpoints"
        let appeared = BackgroundFlow.waitUntil(seconds: 120) {
            let keys = (try? FileManager.default.contentsOfDirectory(atPath: checkpoints)) ?? []
            return keys.contains { key in
                ((try? FileManager.default.contentsOfDirectory(atPath: checkpoints + "/" + key)) ?? []).contains { $0.hasPrefix("ckpt-") }
            }
        }
        #expect(appeared)
        flow.signal(SIGKILL)
        _ = flow.wait()
        // The supervisor SIGTERMs the step; it saves and exits.
        #expect(BackgroundFlow.waitUntil(seconds: 30) { ProcessScan.pids(inDirectory: dir.path).isEmpty })
        let second = try FlowBinary.run(["run"], in: dir.path)
        #expect(second.status == 0, "\(second)")
        let stepLog = try FlowBinary.run(["log", "train"], in: dir.path)
        #expect(stepLog.stdout.contains("resuming at step") || stepLog.stderr.contains("resuming at step"), "\(stepLog)")
        for name in ["teacher.safetensors", "state.safetensors"] {
            #expect(try dir.readData(name) == reference.readData(name), "\(name) differs after resume")
        }
        #expect(try logSteps(dir).map { $0["step"] as? Int } == Array(1...30).map { $0 })
    }

    @Test func aCorruptCheckpointIsSkippedAndAForeignOneRefused() throws {
        let dir = TemporaryDirectory("pretrain-ckpt")
        try data(dir)
        let env = ["FLOW_CHECKPOINT_DIR": dir.path + "/ck"]
        let args = ["op", "pretrain", "--data", "data", "--epochs", "2"] + Self.tiny + Self.outputs
        #expect(try FlowBinary.run(args, in: dir.path, environment: env).status == 0)
        let first = try dir.readData("state.safetensors")
        let kept = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/ck").sorted()
        #expect(kept == ["ckpt-000000006.safetensors", "ckpt-000000012.safetensors"])
        // Truncate the newest: the run warns, resumes from step 6 and ends in the same bytes.
        let newest = dir.path + "/ck/" + kept[1]
        let bytes = try Data(contentsOf: URL(fileURLWithPath: newest))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: newest))
        let r = try FlowBinary.run(args, in: dir.path, environment: env)
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.contains("warning: skipping unreadable checkpoint") && r.stderr.contains(kept[1]), "\(r)")
        #expect(r.stderr.contains("resuming at step 6 of 12"), "\(r)")
        #expect(try dir.readData("state.safetensors") == first)
        #expect(try logSteps(dir).count == 12)
        // Other settings in the same checkpoint directory: refused, naming the setting.
        let other = try FlowBinary.run(args + ["--lr", "0.2"], in: dir.path, environment: env)
        #expect(other.status != 0)
        #expect(other.stderr.contains("checkpoint of another configuration: lr: checkpoint '0.005', this run '0.2'"), "\(other)")
    }

    @Test func divergenceStopsNamingTheStepAndKeepsTheLastGoodCheckpoint() throws {
        let dir = TemporaryDirectory("pretrain-nan")
        try data(dir)
        let env = ["FLOW_CHECKPOINT_DIR": dir.path + "/ck"]
        let args = ["op", "pretrain", "--data", "data", "--epochs", "2", "--checkpoint-every", "1", "--lr", "1e30"]
            + Self.tiny + Self.outputs
        let r = try FlowBinary.run(args, in: dir.path, environment: env)
        #expect(r.status != 0)
        #expect(r.stderr.contains("training diverged at step") && r.stderr.contains("dino") && r.stderr.contains("koleo"), "\(r)")
        #expect(!dir.exists("teacher.safetensors"))
        // The checkpoints left are good ones: a rerun resumes from them (and diverges the same way).
        let again = try FlowBinary.run(args, in: dir.path, environment: env)
        #expect(again.stderr.contains("resuming at step"), "\(again)")
        #expect(!again.stderr.contains("warning"), "\(again)")
    }

    @Test func badInputIsAClearError() throws {
        let dir = TemporaryDirectory("pretrain-bad")
        try data(dir, count: 12)
        func run(_ extra: [String]) throws -> ProcessResult {
            try FlowBinary.run(["op", "pretrain", "--data", "data", "--epochs", "1"] + Self.tiny + extra + Self.outputs, in: dir.path)
        }
        let size = try run(["--image-size", "18"])
        #expect(size.status != 0 && size.stderr.contains("--image-size 18 is not a multiple of --patch 4"), "\(size)")
        let batch = try run(["--batch", "16"])
        #expect(batch.status != 0 && batch.stderr.contains("--batch 16 is larger than the data (12 images)"), "\(batch)")
        let m = try FlowBinary.run(["op", "init-vit", "--arch", "vit-test", "--patch", "4", "--image-size", "16",
                                    "--out", "m.safetensors"], in: dir.path)
        #expect(m.status == 0)
        let arch = try run(["--init", "m.safetensors", "--dim", "16"])
        #expect(arch.status != 0 && arch.stderr.contains("m.safetensors: tensor 'cls_token' has shape [1, 1, 32]")
                && arch.stderr.contains("needs [1, 1, 16]"), "\(arch)")
        // A shard without samples.
        try dir.write("empty/e.tar", Data(count: 1024))
        let empty = try FlowBinary.run(["op", "pretrain", "--data", "empty"] + Self.tiny + Self.outputs, in: dir.path)
        #expect(empty.status != 0 && empty.stderr.contains("no images"), "\(empty)")
    }

    /// `--recipe` sets every default at once; the phases are fractions of the run unless given
    /// in epochs, never both.
    @Test func recipesAndScheduleFractions() throws {
        let dir = TemporaryDirectory("pretrain-recipe")
        try data(dir)
        // tiny without its epoch-form phases
        var tiny = Self.tiny
        for flag in ["--warmup-epochs", "--teacher-temp-warmup-epochs"] {
            let i = tiny.firstIndex(of: flag)!
            tiny.removeSubrange(i...(i + 1))
        }
        func run(_ extra: [String], log: String = "train.jsonl") throws -> ProcessResult {
            try FlowBinary.run(["op", "pretrain", "--data", "data", "--epochs", "1"] + tiny + extra
                               + ["--model-out", "m.safetensors", "--state-out", "s.safetensors", "--log", log], in: dir.path)
        }
        let unknown = try run(["--recipe", "nope"])
        #expect(unknown.status != 0 && unknown.stderr.contains("--recipe must be one of small-cpu, dinov2-default, dinov2-vitl14, not 'nope'"), "\(unknown)")
        let both = try run(["--warmup", "0.2", "--warmup-epochs", "1"])
        #expect(both.status != 0 && both.stderr.contains("give --warmup (a fraction of the run) or --warmup-epochs, not both"), "\(both)")
        let big = try run(["--freeze-last-layer", "1.5"])
        #expect(big.status != 0 && big.stderr.contains("--freeze-last-layer is a fraction of the run: it must lie in [0, 1]"), "\(big)")

        // 6 steps, warmup half the run: linspace(0, peak, 3), then the cosine from the peak.
        let half = try run(["--warmup", "0.5", "--teacher-temp", "0.04,0.07", "--teacher-temp-warmup", "0.5"])
        #expect(half.status == 0, "\(half)")
        let log = try logSteps(dir)
        let lr = log.map { $0["lr"] as! Double }, temp = log.map { $0["teacher_temp"] as! Double }
        let peak = 0.005 * (8.0 / 1024).squareRoot()
        #expect(lr.count == 6 && lr[0] == 0 && abs(lr[1] - peak / 2) < 1e-9 && abs(lr[2] - peak) < 1e-9 && abs(lr[3] - peak) < 1e-9)
        #expect(lr[4] < peak)
        #expect(abs(temp[0] - 0.04) < 1e-7 && abs(temp[1] - 0.055) < 1e-7 && abs(temp[2] - 0.07) < 1e-7 && abs(temp[5] - 0.07) < 1e-7)

        // A reference recipe with the sizes made tiny: its weight decay ends at 0.4 (small-cpu: 0.2);
        // what flow cannot apply (vitl14's SwiGLU) is named.
        let ref = try run(["--recipe", "dinov2-default"], log: "ref.jsonl")
        #expect(ref.status == 0, "\(ref)")
        #expect(!ref.stderr.contains("not applied"), "\(ref.stderr)")
        let wd = try logSteps(dir, "ref.jsonl").map { $0["wd"] as! Double }
        #expect(abs(wd[0] - 0.04) < 1e-7 && wd[5] > 0.3, "\(wd)")
        // Its drop path (0.3) is applied: without it the model differs.
        let withDrop = try dir.readData("m.safetensors")
        let noDrop = try run(["--recipe", "dinov2-default", "--drop-path", "0"], log: "ref0.jsonl")
        #expect(noDrop.status == 0, "\(noDrop)")
        #expect(try dir.readData("m.safetensors") != withDrop)
        // A separate iBOT head of its own size lands in the state.
        let separate = try run(["--ibot-head", "separate", "--ibot-prototypes", "24"], log: "sep.jsonl")
        #expect(separate.status == 0, "\(separate)")
        let header = String(decoding: try dir.readData("s.safetensors").prefix(60_000), as: UTF8.self)
        #expect(header.contains("student.ibot_head.last_layer.weight_v\":{\"dtype\":\"F32\",\"shape\":[24,16]"), "\(header.prefix(300))")
        let bogus = try run(["--ibot-head", "both"], log: "bogus.jsonl")
        #expect(bogus.status != 0 && bogus.stderr.contains("--ibot-head must be shared or separate, not 'both'"), "\(bogus)")
        let vitl = try run(["--recipe", "dinov2-vitl14", "--epochs", "0"], log: "vitl.jsonl")
        #expect(vitl.stderr.contains("recipe dinov2-vitl14: not applied: ffn_layer swiglufused"), "\(vitl.stderr)")
    }

    /// --dump-inputs writes a step's crops and masks; --replay-inputs feeds them back: the same
    /// inputs give the same bytes, edited masks change the step.
    @Test func dumpAndReplayStepInputs() throws {
        let dir = TemporaryDirectory("pretrain-dump")
        try data(dir)
        func run(_ extra: [String], _ tag: String) throws -> ProcessResult {
            try FlowBinary.run(["op", "pretrain", "--data", "data", "--epochs", "1"] + Self.tiny + extra
                               + ["--model-out", "m\(tag).safetensors", "--state-out", "s\(tag).safetensors", "--log", "l\(tag).jsonl"],
                               in: dir.path)
        }
        let dumped = try run(["--dump-inputs", "inputs", "--dump-steps", "1,3"], "1")
        #expect(dumped.status == 0, "\(dumped)")
        for step in [1, 3] {
            for (file, shape) in [("globals", "(16, 3, 16, 16)"), ("locals", "(16, 3, 8, 8)"), ("masks", "(16, 16)")] {
                let header = String(decoding: try dir.readData("inputs/step-\(step)/\(file).npy").prefix(128), as: UTF8.self)
                #expect(header.contains("'shape': \(shape)"), "\(file) of step \(step): \(header)")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: dir.url("inputs/step-2").path))
        let same = try run(["--replay-inputs", "inputs"], "2")
        #expect(same.status == 0, "\(same)")
        #expect(try dir.readData("m1.safetensors") == dir.readData("m2.safetensors"))
        // No masked patch in step 1: its iBOT term is 0.
        var masks = try dir.readData("inputs/step-1/masks.npy")
        let body = masks.count - 16 * 16
        masks.replaceSubrange(body..<masks.count, with: Data(count: 16 * 16))
        try dir.write("inputs/step-1/masks.npy", masks)
        let edited = try run(["--replay-inputs", "inputs"], "3")
        #expect(edited.status == 0, "\(edited)")
        let log = try logSteps(dir, "l3.jsonl"), original = try logSteps(dir, "l1.jsonl")
        #expect(log[0]["ibot"] as? Double == 0 && (original[0]["ibot"] as? Double ?? 0) > 0, "\(log[0]) \(original[0])")
        let bad = try run(["--replay-inputs", "inputs", "--batch", "4"], "4")
        #expect(bad.status != 0 && bad.stderr.contains("given step inputs hold"), "\(bad)")
    }
}
