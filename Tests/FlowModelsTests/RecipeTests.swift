import Foundation
import Testing
@testable import FlowModels

/// Schedule phases as fractions of the run, and the recipes against the reference configs.
@Suite struct RecipeTests {
    /// A 750-step run (3 epochs of 250 steps, the benchmark of the issue): the reference
    /// fractions give 75 warmup steps, 8 frozen steps (7.5 rounds up) and a 225-step ramp,
    /// where the epoch forms gave 250, 250 and 750.
    @Test func phasesAsFractionsOfTheRun() throws {
        var c = PretrainConfig(vit: try ViTConfig.preset("vit-test", patch: 4, imageSize: 32), images: 8000)
        c.batch = 32
        c.epochs = 3
        #expect(c.iterations == 750)
        #expect(c.warmup == .fraction(0.1) && c.freezeLastLayer == .fraction(0.01) && c.teacherTemperatureWarmup == .fraction(0.3))
        #expect(c.iterations(of: c.warmup) == 75)
        #expect(c.iterations(of: c.freezeLastLayer) == 8)
        #expect(c.iterations(of: c.teacherTemperatureWarmup) == 225)
        c.teacherTemperatureStart = 0.04
        c.teacherTemperatureEnd = 0.07
        let s = c.schedules
        #expect(s.learningRate(0) == 0 && abs(s.learningRate(74) - c.peakLR) < 1e-15 && s.learningRate(75) == c.peakLR)
        #expect(s.learningRate(73) < c.peakLR)
        #expect((0..<8).allSatisfy { s.lastLayerLearningRate($0) == 0 } && s.lastLayerLearningRate(8) == s.learningRate(8))
        #expect(abs(s.teacherTemperature(0) - 0.04) < 1e-15 && s.teacherTemperature(224) == 0.07)
        #expect(s.teacherTemperature(223) < 0.07 && s.teacherTemperature(749) == 0.07)
        // The epoch forms, kept as explicit options.
        c.warmup = .epochs(1)
        c.freezeLastLayer = .epochs(0.5)
        c.teacherTemperatureWarmup = .epochs(4)
        #expect(c.iterations(of: c.warmup) == 250 && c.iterations(of: c.freezeLastLayer) == 125)
        #expect(c.iterations(of: c.teacherTemperatureWarmup) == 1000)
        #expect(c.schedules.teacherTemperature(749) < 0.07)   // a ramp longer than the run never ends
        #expect(ScheduleSpan.fraction(1).iterations(total: 750, stepsPerEpoch: 250) == 750)
        #expect(ScheduleSpan.fraction(0).iterations(total: 750, stepsPerEpoch: 250) == 0)
        c.warmup = .fraction(1.5)
        #expect(throws: ModelError("--warmup is 1.5 of the run: a fraction must lie in [0, 1], epochs must be ≥ 0")) { try c.validate() }
    }

    /// dinov2/configs/ssl_default_config.yaml, copied by hand (the keys flow's recipe covers).
    static let sslDefault: [String: String] = [
        "student.arch": "vit_large", "student.patch_size": "16", "student.drop_path_rate": "0.3",
        "student.layerscale": "1e-05", "student.drop_path_uniform": "true", "student.ffn_layer": "mlp",
        "student.num_register_tokens": "0", "student.interpolate_antialias": "false", "student.interpolate_offset": "0.1",
        "teacher.momentum_teacher": "0.992", "teacher.warmup_teacher_temp": "0.04", "teacher.teacher_temp": "0.07",
        "teacher.warmup_teacher_temp_epochs": "30",
        "optim.epochs": "100", "optim.weight_decay": "0.04", "optim.weight_decay_end": "0.4", "optim.base_lr": "0.004",
        "optim.warmup_epochs": "10", "optim.min_lr": "1e-06", "optim.clip_grad": "3.0", "optim.freeze_last_layer_epochs": "1",
        "optim.patch_embed_lr_mult": "0.2", "optim.layerwise_decay": "0.9", "optim.adamw_beta1": "0.9", "optim.adamw_beta2": "0.999",
        "crops.global_crops_scale": "0.32,1.0", "crops.local_crops_number": "8", "crops.local_crops_scale": "0.05,0.32",
        "crops.global_crops_size": "224", "crops.local_crops_size": "96",
        "dino.loss_weight": "1.0", "dino.head_n_prototypes": "65536", "dino.head_bottleneck_dim": "256",
        "dino.head_nlayers": "3", "dino.head_hidden_dim": "2048", "dino.koleo_loss_weight": "0.1",
        "ibot.loss_weight": "1.0", "ibot.mask_sample_probability": "0.5", "ibot.mask_ratio_min_max": "0.1,0.5",
        "ibot.separate_head": "false", "ibot.head_n_prototypes": "65536", "ibot.head_bottleneck_dim": "256",
        "ibot.head_hidden_dim": "2048",
        "train.batch_size_per_gpu": "64", "train.centering": "centering",
    ]

    /// dinov2/configs/train/vitl14.yaml, copied by hand: it overrides these keys of the default.
    static let vitl14Overrides: [String: String] = [
        "dino.head_n_prototypes": "131072", "dino.head_bottleneck_dim": "384",
        "ibot.separate_head": "true", "ibot.head_n_prototypes": "131072",
        "train.batch_size_per_gpu": "32", "train.centering": "sinkhorn_knopp",
        "student.arch": "vit_large", "student.patch_size": "14", "student.drop_path_rate": "0.4",
        "student.ffn_layer": "swiglufused", "teacher.momentum_teacher": "0.994",
        "optim.epochs": "500", "optim.weight_decay_end": "0.2", "optim.base_lr": "2.0e-04", "optim.warmup_epochs": "80",
        "optim.layerwise_decay": "1.0", "crops.local_crops_size": "98",
    ]

    /// The recipe's values under the config's keys.
    static func configValues(_ r: Recipe) -> [String: String] {
        func n(_ x: Double) -> String { String(x) }
        func span(_ s: ScheduleSpan) -> Double { if case .fraction(let f) = s { return f * Double(r.epochs) } else { return -1 } }
        let arch = ["vit-large": "vit_large", "vit-test": "vit_test"][r.arch] ?? r.arch
        return [
            "student.arch": arch, "student.patch_size": String(r.patch), "student.drop_path_rate": n(r.dropPathRate),
            "student.layerscale": n(Double(r.layerScale)), "student.drop_path_uniform": String(r.dropPathUniform),
            "student.ffn_layer": r.ffnLayer, "student.num_register_tokens": String(r.registers),
            "student.interpolate_antialias": String(r.interpolateAntialias), "student.interpolate_offset": n(Double(r.interpolateOffset)),
            "teacher.momentum_teacher": n(r.teacherMomentum), "teacher.warmup_teacher_temp": n(r.teacherTemperature.start),
            "teacher.teacher_temp": n(r.teacherTemperature.end), "teacher.warmup_teacher_temp_epochs": n(span(r.teacherTemperatureWarmup)),
            "optim.epochs": String(r.epochs), "optim.weight_decay": n(r.weightDecay.lowerBound),
            "optim.weight_decay_end": n(r.weightDecay.upperBound), "optim.base_lr": n(r.baseLR),
            "optim.warmup_epochs": n(span(r.warmup)), "optim.min_lr": n(r.minLR), "optim.clip_grad": n(r.clip),
            "optim.freeze_last_layer_epochs": n(span(r.freezeLastLayer)),
            "optim.patch_embed_lr_mult": n(Double(r.patchEmbedLRMultiplier)), "optim.layerwise_decay": n(Double(r.layerDecay)),
            "optim.adamw_beta1": n(Double(r.adamBetas.0)), "optim.adamw_beta2": n(Double(r.adamBetas.1)),
            "crops.global_crops_scale": "\(r.globalScale.lowerBound),\(r.globalScale.upperBound)",
            "crops.local_crops_number": String(r.localCrops),
            "crops.local_crops_scale": "\(r.localScale.lowerBound),\(r.localScale.upperBound)",
            "crops.global_crops_size": String(r.globalCropSize), "crops.local_crops_size": String(r.localCropSize),
            "dino.loss_weight": n(Double(r.dinoLossWeight)), "dino.head_n_prototypes": String(r.prototypes),
            "dino.head_bottleneck_dim": String(r.headBottleneck), "dino.head_nlayers": String(r.headLayers),
            "dino.head_hidden_dim": String(r.headHidden), "dino.koleo_loss_weight": n(Double(r.koleo)),
            "ibot.loss_weight": n(Double(r.ibotLossWeight)), "ibot.mask_sample_probability": n(r.maskProbability),
            "ibot.mask_ratio_min_max": "\(r.maskRatio.lowerBound),\(r.maskRatio.upperBound)",
            "ibot.separate_head": String(r.ibotSeparateHead), "ibot.head_n_prototypes": String(r.ibotPrototypes),
            "ibot.head_bottleneck_dim": String(r.ibotHeadBottleneck), "ibot.head_hidden_dim": String(r.ibotHeadHidden),
            "train.batch_size_per_gpu": String(r.batch), "train.centering": r.centering.rawValue,
        ]
    }

    /// Compares numerically where both sides are numbers ("2.0e-04" = "0.0002"), else as text.
    static func expectSame(_ got: [String: String], _ want: [String: String], _ recipe: String) {
        #expect(Set(got.keys) == Set(want.keys))
        for (k, w) in want {
            let g = got[k] ?? "(missing)"
            let gn = g.split(separator: ",").map { Double($0) }, wn = w.split(separator: ",").map { Double($0) }
            if !wn.contains(nil), !gn.contains(nil), gn.count == wn.count {
                for (a, b) in zip(gn, wn) { #expect(abs(a! - b!) <= 1e-6 * abs(b!), "\(recipe) \(k): \(g), config \(w)") }
            } else {
                #expect(g == w, "\(recipe) \(k): \(g), config \(w)")
            }
        }
    }

    @Test func dinov2DefaultIsTheSSLDefaultConfig() {
        Self.expectSame(Self.configValues(.dinov2Default), Self.sslDefault, "dinov2-default")
    }

    @Test func dinov2ViTL14IsTheDefaultWithTheViTL14Overrides() {
        Self.expectSame(Self.configValues(.dinov2ViTL14), Self.sslDefault.merging(Self.vitl14Overrides) { $1 }, "dinov2-vitl14")
        #expect(Recipe.dinov2ViTL14.warmup == .fraction(0.16) && Recipe.dinov2ViTL14.teacherTemperatureWarmup == .fraction(0.06))
    }

    @Test func unsupportedReferenceValuesAreNamed() {
        #expect(Recipe.smallCPU.unsupported.isEmpty)
        #expect(Recipe.dinov2Default.unsupported.isEmpty)
        #expect(Recipe.dinov2ViTL14.unsupported == ["ffn_layer swiglufused (flow's blocks have the plain MLP)"])
    }

    /// One set of defaults: the library's config, the head's and the recipe agree.
    @Test func libraryDefaultsAreTheDefaultRecipe() throws {
        let r = Recipe.smallCPU
        #expect(Recipe.all.first == r && Recipe.named("small-cpu") == r && Recipe.named("nope") == nil)
        let vit = try r.vit()
        #expect(vit.arch == "vit-test" && vit.patch == 4 && vit.imageSize == 32 && vit.layerScale == 1 && vit.registers == 0)
        let c = PretrainConfig(vit: vit, images: 100)
        let head = DINOHeadConfig(inputDim: vit.dim)
        #expect(head == c.studentHead)
        #expect(c.prototypes == 64 && c.hidden == 256 && c.bottleneck == 64 && c.epochs == 12 && c.batch == 32)
        #expect(c.baseLR == 0.005 && c.teacherMomentum == 0.99 && c.teacherTemperatureStart == 0.02 && c.clip == 3)
        #expect(c.weightDecay == 0.04...0.2 && c.layerDecay == 1 && c.centering == .sinkhornKnopp && c.localCrops == 6)
        // Applying a reference recipe sets its values in the config.
        let l = PretrainConfig(vit: try Recipe.dinov2ViTL14.vit(), images: 1000, recipe: .dinov2ViTL14)
        #expect(l.vit.patch == 14 && l.vit.imageSize == 224 && l.vit.dim == 1024 && l.vit.layerScale == 1e-5)
        #expect(l.prototypes == 131072 && l.bottleneck == 384 && l.hidden == 2048 && l.localSize == 98 && l.localCrops == 8)
        #expect(l.weightDecay == 0.04...0.2 && l.layerDecay == 1 && l.baseLR == 2e-4 && l.epochs == 500 && l.batch == 32)
        #expect(l.centering == .sinkhornKnopp && l.teacherMomentum == 0.994 && l.warmup == .fraction(0.16))
        #expect(l.ibotSeparateHead && l.ibotPrototypes == 131072 && l.ibotBottleneck == 256 && l.ibotHidden == 2048)
        #expect(l.dropPath == 0.4 && l.dropPathUniform)
        #expect(Recipe.dinov2ViTL14.differences(from: .dinov2Default).contains("patch: 16 → 14"))
    }
}
