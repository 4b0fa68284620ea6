import Foundation
import FlowTestSupport
import Testing

/// `flow op distill`: a smaller student from a pretrain teacher and its state; exact resume;
/// a teacher that does not fit the student is a clear error.
@Suite(.serialized) struct DistillOpTests {
    static let tiny = PretrainOpTests.tiny
    static let student = ["--dim", "16", "--depth", "1", "--heads", "2"]
    static let outputs = ["--model-out", "student.safetensors", "--state-out", "dstate.safetensors", "--log", "distill.jsonl"]

    func setUp(_ dir: TemporaryDirectory) throws {
        try PretrainOpTests().data(dir)
        let r = try FlowBinary.run(["op", "pretrain", "--data", "data", "--epochs", "1"] + Self.tiny + PretrainOpTests.outputs, in: dir.path)
        #expect(r.status == 0, "\(r)")
    }

    @Test func distilsIntoASmallerStudentThatTheEvalOpsLoad() throws {
        let dir = TemporaryDirectory("distill-op")
        try setUp(dir)
        let env = ["FLOW_CHECKPOINT_DIR": dir.path + "/ck"]
        let args = ["op", "distill", "--teacher", "teacher.safetensors", "--teacher-state", "state.safetensors",
                    "--data", "data", "--epochs", "2"] + Self.tiny + Self.student
        let r = try FlowBinary.run(args + Self.outputs, in: dir.path, environment: env)
        #expect(r.status == 0, "\(r)")
        let log = try PretrainOpTests().logSteps(dir, "distill.jsonl")
        #expect(log.map { $0["step"] as? Int } == Array(1...12).map { $0 })
        #expect(log.allSatisfy { ($0["ibot"] as? Double ?? 0) > 0 && $0["koleo"] != nil })
        let knn = try FlowBinary.run(["op", "eval-knn", "--model", "student.safetensors", "--train", "data", "--val", "data",
                                      "--k", "5", "--out", "knn.json"], in: dir.path)
        #expect(knn.status == 0, "\(knn)")
        let knnJSON = try #require(try JSONSerialization.jsonObject(with: dir.readData("knn.json")) as? [String: Any])
        #expect(knnJSON["feature_dim"] as? Int == 16)
        // Resume from the epoch-1 checkpoint (the newest removed) ends in the same bytes.
        let first = try dir.readData("dstate.safetensors")
        unlink(dir.path + "/ck/ckpt-000000012.safetensors")
        let again = try FlowBinary.run(args + Self.outputs, in: dir.path, environment: env)
        #expect(again.status == 0 && again.stderr.contains("resuming at step 6 of 12"), "\(again)")
        #expect(try dir.readData("dstate.safetensors") == first)
    }

    @Test func aTeacherThatDoesNotFitIsAClearError() throws {
        let dir = TemporaryDirectory("distill-bad")
        try PretrainOpTests().data(dir, count: 16)
        let m = try FlowBinary.run(["op", "init-vit", "--arch", "vit-test", "--patch", "8", "--image-size", "16",
                                    "--out", "t8.safetensors"], in: dir.path)
        #expect(m.status == 0)
        let r = try FlowBinary.run(["op", "distill", "--teacher", "t8.safetensors", "--data", "data", "--epochs", "1"]
                                   + Self.tiny + Self.outputs, in: dir.path)
        #expect(r.status != 0)
        #expect(r.stderr.contains("t8.safetensors: tensor 'patch_embed.proj.weight' has shape [32, 3, 8, 8]")
                && r.stderr.contains("--patch 4"), "\(r)")
        let s = try FlowBinary.run(["op", "distill", "--teacher", "t8.safetensors", "--teacher-state", "t8.safetensors",
                                    "--data", "data", "--epochs", "1", "--patch", "8", "--image-size", "16", "--local-size", "8", "--batch", "8"] + Self.outputs, in: dir.path)
        #expect(s.status != 0 && s.stderr.contains("not the --state-out of pretrain"), "\(s)")
    }
}
