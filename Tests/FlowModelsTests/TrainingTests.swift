import Foundation
import FlowFormats
import FlowTestSupport
import Testing
@testable import FlowModels

/// Parameter groups, AdamW, clipping, EMA and checkpoint round trips.
@Suite struct TrainingTests {
    static let config = ViTConfig(dim: 8, depth: 2, heads: 2, mlpHidden: 12, patch: 2, imageSize: 4, registers: 1)

    @Test func vitParameterGroupsFollowDINOv2() {
        let m = ViT(randomlyInitialized: Self.config, seed: 1)
        let list = m.parameterList()
        #expect(list.map(\.name) == m.namedParameters().map(\.name))
        #expect(list.map(\.info.shape) == m.namedParameters().map(\.tensor.shape))
        let info = Dictionary(uniqueKeysWithValues: list.map { ($0.name, $0.info) })
        for name in ["blocks.0.attn.qkv.bias", "blocks.1.norm1.weight", "blocks.0.ls1.gamma", "norm.weight", "patch_embed.proj.bias"] {
            #expect(info[name]?.weightDecay == false, "\(name)")
        }
        for name in ["blocks.0.attn.qkv.weight", "pos_embed", "cls_token", "patch_embed.proj.weight"] {
            #expect(info[name]?.weightDecay == true, "\(name)")
        }
        #expect(info["patch_embed.proj.weight"]?.lrMultiplier == 0.2)
        #expect(info["blocks.0.mlp.fc1.weight"]?.lrMultiplier == 1)
        // Exponent L + 1 − id with L = 2.
        #expect(info["pos_embed"]?.layerDecayExponent == 3)
        #expect(info["blocks.0.attn.proj.weight"]?.layerDecayExponent == 2)
        #expect(info["blocks.1.attn.proj.weight"]?.layerDecayExponent == 1)
        #expect(info["norm.bias"]?.layerDecayExponent == 0)
        let adam = AdamW(layerDecay: 0.5)
        #expect(adam.learningRate(info["pos_embed"]!, lr: 1) == 0.125)
        #expect(abs(adam.learningRate(info["patch_embed.proj.weight"]!, lr: 1) - 0.025) < 1e-7)
        #expect(ParameterInfo.dinov2(name: "last_layer.weight_v", shape: [4, 2]).isLastLayer)
    }

    func smallSet() -> NamedParameters {
        NamedParameters([
            .init(name: "a.weight", values: [0.5, -1.0, 2.0], info: ParameterInfo(shape: [3], lrMultiplier: 0.2, layerDecayExponent: 2)),
            .init(name: "a.bias", values: [0.1, 0.2], info: ParameterInfo(shape: [2], weightDecay: false)),
            .init(name: "last_layer.weight", values: [1.0, 1.0], info: ParameterInfo(shape: [2], isLastLayer: true)),
        ])
    }

    func gradients(_ step: Int) -> NamedParameters {
        var g = smallSet().zerosLike()
        g["a.weight"] = [0.3, -0.2 * Float(step), 1e-3]
        g["a.bias"] = [-1, Float(step)]
        g["last_layer.weight"] = [0.5, -0.5]
        return g
    }

    /// First step: m̂/√v̂ = g/|g| (up to ε), so each value moves by lr'·sign(g) after decay.
    @Test func adamFirstStepIsSignStep() throws {
        var p = smallSet()
        var adam = AdamW(layerDecay: 0.5)
        adam.beginStep()
        try adam.update(&p, gradients: gradients(1), lr: 0.01, weightDecay: 0.1, lastLayerLR: 0)
        let rate: Float = 0.01 * 0.2 * 0.25
        let w0: [Float] = [0.5, -1.0, 2.0], g: [Float] = [0.3, -0.2, 1e-3]
        for i in 0..<3 {
            let want = w0[i] * (1 - rate * 0.1) - rate * (g[i] > 0 ? 1 : -1)
            #expect(abs(p["a.weight"]![i] - want) < 1e-6)
        }
        #expect(abs(p["a.bias"]![0] - (0.1 + 0.01)) < 1e-6)   // no decay on biases
        #expect(p["last_layer.weight"]! == [1.0, 1.0])        // frozen: lr 0, so no decay either
    }

    /// Several steps against NumPy running torch.optim.AdamW's update rule.
    @Test func adamMatchesNumPyReference() throws {
        let python = try Python.require(["numpy"])
        var p = smallSet()
        var adam = AdamW(layerDecay: 0.7)
        let lrs: [Float] = [0.01, 0.02, 0.015, 0.005], wds: [Float] = [0.04, 0.1, 0.15, 0.2]
        var script = "import numpy as np\nb1, b2, eps, ld = 0.9, 0.999, 1e-8, 0.7\n"
        script += "P = {'w': np.array([0.5, -1.0, 2.0], np.float64), 'b': np.array([0.1, 0.2]), 'l': np.array([1.0, 1.0])}\n"
        script += "M = {k: np.zeros_like(v) for k, v in P.items()}; V = {k: np.zeros_like(v) for k, v in P.items()}\n"
        script += "mult = {'w': 0.2 * ld**2, 'b': 1.0, 'l': 1.0}; decays = {'w': True, 'b': False, 'l': True}\n"
        for step in 1...4 {
            adam.beginStep()
            let g = gradients(step)
            let lastLR: Float = step == 1 ? 0 : lrs[step - 1]
            try adam.update(&p, gradients: g, lr: lrs[step - 1], weightDecay: wds[step - 1], lastLayerLR: lastLR)
            script += "t = \(step); lr = \(lrs[step - 1]); wd = \(wds[step - 1]); last = \(lastLR)\n"
            script += "G = {'w': np.array(\(g["a.weight"]!)), 'b': np.array(\(g["a.bias"]!)), 'l': np.array(\(g["last_layer.weight"]!))}\n"
            script += """
            for k in P:
                r = (last if k == 'l' else lr) * mult[k]
                P[k] = P[k] * (1 - r * (wd if decays[k] else 0))
                M[k] = b1 * M[k] + (1 - b1) * G[k]; V[k] = b2 * V[k] + (1 - b2) * G[k] ** 2
                P[k] = P[k] - r * (M[k] / (1 - b1 ** t)) / (np.sqrt(V[k] / (1 - b2 ** t)) + eps)

            """
        }
        script += "print(' '.join(repr(float(x)) for k in ['w', 'b', 'l'] for x in P[k]))\n"
        let dir = TemporaryDirectory()
        let r = try Python.run(python, script: script, in: dir.path)
        #expect(r.status == 0, "\(r)")
        let want = r.stdout.split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
        let got = p["a.weight"]! + p["a.bias"]! + p["last_layer.weight"]!
        #expect(want.count == got.count)
        for (a, b) in zip(got, want) { #expect(abs(Double(a) - b) < 1e-5, "\(got) vs \(want)") }
    }

    /// Saving the optimizer state mid-run and restoring it continues exactly.
    @Test func adamStateRoundTrip() throws {
        var straight = smallSet(), resumed = smallSet()
        var a = AdamW(layerDecay: 0.9)
        for step in 1...2 {
            a.beginStep()
            try a.update(&straight, gradients: gradients(step), lr: 0.01, weightDecay: 0.05)
        }
        let dir = TemporaryDirectory()
        let state = a.stateTensors()
        try SafetensorsFile(tensors: state.tensors.merging(straight.safetensorsTensors(prefix: "student.")) { $1 },
                            metadata: state.metadata).write(to: dir.path + "/ckpt.safetensors")
        let file = try SafetensorsFile.read(path: dir.path + "/ckpt.safetensors")
        var b = AdamW(layerDecay: 0.9)
        try b.loadState(tensors: file.tensors, metadata: file.metadata, source: "ckpt.safetensors")
        try resumed.load(from: file.tensors, prefix: "student.", source: "ckpt.safetensors")
        #expect(b == a && resumed == straight)
        for step in 3...4 {
            a.beginStep(); b.beginStep()
            try a.update(&straight, gradients: gradients(step), lr: 0.01, weightDecay: 0.05)
            try b.update(&resumed, gradients: gradients(step), lr: 0.01, weightDecay: 0.05)
        }
        #expect(resumed == straight)
        #expect(throws: ModelError.self) { try b.loadState(tensors: [:], metadata: [:], source: "x") }
    }

    @Test func missingGradientIsAnError() {
        var p = smallSet(), adam = AdamW()
        adam.beginStep()
        #expect(throws: ModelError.self) { try adam.update(&p, gradients: NamedParameters(), lr: 0.1, weightDecay: 0) }
    }

    @Test func clipping() {
        var g = gradients(2)   // [0.3, -0.4, 1e-3], [-1, 2], [0.5, -0.5]
        let want = (0.09 + 0.16 + 1e-6 + 1 + 4 + 0.25 + 0.25).squareRoot()
        #expect(abs(GradientClipping.norm(g) - want) < 1e-6)
        let before = GradientClipping.clip(&g, maxNorm: 1.0)
        #expect(abs(before - want) < 1e-6)
        #expect(abs(GradientClipping.norm(g) - 1.0) < 1e-5)
        var small = gradients(2)
        GradientClipping.clip(&small, maxNorm: 3.0)   // norm ≈ 2.4: untouched
        #expect(small == gradients(2))
    }

    @Test func emaUpdate() throws {
        var teacher = smallSet()
        var student = smallSet()
        student["a.bias"] = [1.1, -0.8]
        try EMA.update(teacher: &teacher, student: student, momentum: 0.9)
        #expect(abs(teacher["a.bias"]![0] - (0.9 * 0.1 + 0.1 * 1.1)) < 1e-7)
        #expect(abs(teacher["a.bias"]![1] - (0.9 * 0.2 + 0.1 * -0.8)) < 1e-7)
        #expect(teacher["a.weight"] == smallSet()["a.weight"])
        let frozen = teacher
        try EMA.update(teacher: &teacher, student: student, momentum: 1)
        #expect(teacher == frozen)
        #expect(throws: ModelError.self) { try EMA.update(teacher: &teacher, student: NamedParameters(), momentum: 0.9) }
    }

    @Test func vitCheckpointThroughParameterSet() throws {
        let m = ViT(randomlyInitialized: Self.config, seed: 7)
        var loaded = ViT(zeros: Self.config)
        try loaded.load(from: m.safetensorsTensors(prefix: "teacher.backbone."), prefix: "teacher.backbone.", source: "t.safetensors")
        #expect(loaded == m)
        var missing = m.safetensorsTensors()
        missing["blocks.1.ls2.gamma"] = nil
        #expect(throws: ModelError.self) { try loaded.load(from: missing, source: "t.safetensors") }
        #expect(m.parameterCount == m.namedParameters().reduce(0) { $0 + $1.tensor.values.count })
    }

    /// A few AdamW steps on a tiny ViT regressing fixed targets lower the loss (end to end:
    /// forward, backward, clip, step, EMA).
    @Test func trainingStepsLowerTheLoss() throws {
        var student = ViT(randomlyInitialized: Self.config, seed: 3)
        var teacher = student
        var rng = SplitMix64(seed: 4)
        let images = GradientCheck.random(2 * 3 * 4 * 4, &rng)
        let target = GradientCheck.random(2 * 8, &rng)
        var adam = AdamW()
        func loss(_ m: ViT) throws -> (Double, ViTOutput, [Float]) {
            let out = try m.forward(images: images, batch: 2, height: 4, width: 4, keepActivations: true)
            let cls = out.classTokens
            var l = 0.0
            var g = [Float](repeating: 0, count: cls.count)
            for i in cls.indices { let e = cls[i] - target[i]; l += Double(e * e); g[i] = 2 * e }
            return (l, out, out.tokenGradient(classTokens: g))
        }
        let (first, _, _) = try loss(student)
        for _ in 0..<5 {
            let (_, out, tg) = try loss(student)
            var grads = ViTGradients(zeros: Self.config)
            try student.backward(out, tokenGradient: tg, gradients: &grads)
            GradientClipping.clip(&grads, maxNorm: 3)
            adam.beginStep()
            try adam.update(&student, gradients: grads, lr: 0.01, weightDecay: 0.04)
            try EMA.update(teacher: &teacher, student: student, momentum: 0.994)
        }
        let (last, _, _) = try loss(student)
        #expect(last < 0.8 * first, "loss \(first) → \(last)")
        #expect(teacher != student && teacher != ViT(randomlyInitialized: Self.config, seed: 3))
    }
}
