// Training diagnostics for `flow op pretrain` on labelled shards (synth-images), in release.
// Built by bench/train-diag.sh against the release objects of FlowModels; not part of `make test`.
//
// Runs the Trainer as the op does and, every N steps, prints what tells a learning run from a
// stuck one: the teacher's class-token diversity (mean pairwise cosine, per-dimension std after
// the final norm), the head's logit spread across images, the entropy of the teacher targets
// and of the student's predictions (against ln K), the student head's last-layer g, and the
// teacher's k-NN accuracy (cosine, k = 20, majority vote) on a labelled validation set.
import FlowFormats
import FlowModels
import FlowNumerics
import Foundation

func loadShards(_ dir: String) throws -> (images: [ImageTensor], labels: [Int]) {
    let paths = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".tar") }.sorted()
    var images: [ImageTensor] = [], labels: [Int] = []
    let decoder = try ImageDecoder()
    for p in paths {
        let reader = try ShardReader(path: dir + "/" + p)
        while let s = try reader.next() {
            let ext = ["png", "jpg", "jpeg"].first { s.entries[$0] != nil }!
            images.append(try decoder.decode(s.entries[ext]!, hint: ext, channels: 3))
            let json = String(decoding: s.entries["json"] ?? [], as: UTF8.self)
            let r = json.range(of: "\"class_index\": ")!
            labels.append(Int(json[r.upperBound...].prefix { $0.isNumber })!)
        }
    }
    return (images, labels)
}

/// Class tokens of `images` (normalised as the crops are) under `model`, [n, d].
func classTokens(_ model: ViT, _ images: [ImageTensor], threads: Int) throws -> [[Float]] {
    var out: [[Float]] = []
    let chunk = 250
    for start in stride(from: 0, to: images.count, by: chunk) {
        let part = images[start..<min(images.count, start + chunk)]
        var flat: [Float] = []
        for var im in part { ImageNetNormalization.apply(&im); flat += im.data }
        let s = model.config.imageSize
        let o = try model.forward(images: flat, batch: part.count, height: s, width: s, threads: threads)
        let c = o.classTokens, d = model.config.dim
        for i in 0..<part.count { out.append(Array(c[(i * d)..<((i + 1) * d)])) }
    }
    return out
}

func normalized(_ v: [Float]) -> [Float] {
    let n = max(v.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
    return v.map { $0 / n }
}

func knn(train: [[Float]], trainLabels: [Int], val: [[Float]], valLabels: [Int], k: Int = 20, classes: Int) -> Double {
    let tr = train.map(normalized), va = val.map(normalized)
    var correct = 0
    for (i, v) in va.enumerated() {
        var sims = tr.enumerated().map { (j, t) in (zip(v, t).reduce(Float(0)) { $0 + $1.0 * $1.1 }, j) }
        sims.sort { $0.0 > $1.0 }
        var votes = [Float](repeating: 0, count: classes)
        for (s, j) in sims.prefix(k) { votes[trainLabels[j]] += exp(s / 0.07) }
        if votes.indices.max(by: { votes[$0] < votes[$1] }) == valLabels[i] { correct += 1 }
    }
    return Double(correct) / Double(va.count)
}

func entropy(_ row: ArraySlice<Float>) -> Double {
    row.reduce(0.0) { $1 > 0 ? $0 - Double($1) * log(Double($1)) : $0 }
}

func softmax(_ m: Matrix, temperature: Float) -> Matrix {
    var out = m
    for r in 0..<m.rows {
        let row = m.data[(r * m.cols)..<((r + 1) * m.cols)].map { Double($0 / temperature) }
        let mx = row.max()!
        let e = row.map { exp($0 - mx) }, s = e.reduce(0, +)
        for j in 0..<m.cols { out.data[r * m.cols + j] = Float(e[j] / s) }
    }
    return out
}

/// One diagnostic line for the trainer's current teacher and student.
func diagnose(_ t: Trainer, step: Int, probe: [ImageTensor], train: (images: [ImageTensor], labels: [Int]),
              val: (images: [ImageTensor], labels: [Int]), threads: Int, classes: Int, withKNN: Bool) throws -> String {
    let cls = try classTokens(t.teacher, probe, threads: threads)
    let n = cls.count, d = cls[0].count
    let unit = cls.map(normalized)
    var cosSum = 0.0
    for i in 0..<n { for j in (i + 1)..<n { cosSum += Double(zip(unit[i], unit[j]).reduce(Float(0)) { $0 + $1.0 * $1.1 }) } }
    let meanCos = cosSum / Double(n * (n - 1) / 2)
    var stdSum = 0.0
    for j in 0..<d {
        let col = cls.map { Double($0[j]) }, mean = col.reduce(0, +) / Double(n)
        stdSum += (col.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)).squareRoot()
    }
    let k = t.config.prototypes
    let tLogits = try Matrix(rows: n, cols: k, data: t.teacherHead.forward(cls.flatMap { $0 }, rows: n).output)
    // Logit spread: std across images of each prototype's logit, averaged over prototypes.
    var spread = 0.0
    for j in 0..<k {
        let col = (0..<n).map { Double(tLogits.data[$0 * k + j]) }, mean = col.reduce(0, +) / Double(n)
        spread += (col.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)).squareRoot()
    }
    spread /= Double(k)
    let temp = t.schedules.values(at: t.step).teacherTemperature
    let sk = SinkhornKnopp.targets(tLogits, temperature: temp)
    let tEnt = (0..<n).map { entropy(sk.data[($0 * k)..<(($0 + 1) * k)]) }.reduce(0, +) / Double(n)
    let sCls = try classTokens(t.student, probe, threads: threads)
    let sLogits = try Matrix(rows: n, cols: k, data: t.studentHead.forward(sCls.flatMap { $0 }, rows: n).output)
    let sp = softmax(sLogits, temperature: 0.1)
    let sEnt = (0..<n).map { entropy(sp.data[($0 * k)..<(($0 + 1) * k)]) }.reduce(0, +) / Double(n)
    // Cross-entropy of the student's own clean view against the teacher's targets.
    var ce = 0.0
    for r in 0..<n { for j in 0..<k { ce -= Double(sk.data[r * k + j]) * log(max(Double(sp.data[r * k + j]), 1e-30)) } }
    ce /= Double(n)
    let g = t.studentHead.lastLayerG, gMean = Double(g.reduce(0, +)) / Double(g.count)
    var line = String(format: "step %4d  cls-cos %.3f  cls-std %.3f  logit-spread %.4f  H(teacher) %.3f  H(student) %.3f  CE %.3f  (ln K %.3f)  g %.3f",
                      step, meanCos, stdSum / Double(d), spread, tEnt, sEnt, ce, log(Double(k)), gMean)
    if withKNN {
        let trc = try classTokens(t.teacher, train.images, threads: threads)
        let vac = try classTokens(t.teacher, val.images, threads: threads)
        line += String(format: "  knn %.3f", knn(train: trc, trainLabels: train.labels, val: vac, valLabels: val.labels, classes: classes))
    }
    return line
}

// Arguments: TRAIN_DIR VAL_DIR, then KEY=VALUE settings (see below).
let args = CommandLine.arguments
var settings: [String: String] = [:]
for a in args.dropFirst(3) { let p = a.split(separator: "=", maxSplits: 1); settings[String(p[0])] = String(p[1]) }
func setting(_ k: String, _ d: String) -> String { settings[k] ?? d }
var train = try loadShards(args[1]), val = try loadShards(args[2])
if let only = settings["only"] {
    // Keep only these classes (the easy case: two or three very different shapes).
    let keep = Set(only.split(separator: ",").map { Int($0)! })
    func filter(_ d: (images: [ImageTensor], labels: [Int])) -> (images: [ImageTensor], labels: [Int]) {
        let idx = d.labels.indices.filter { keep.contains(d.labels[$0]) }
        return (idx.map { d.images[$0] }, idx.map { d.labels[$0] })
    }
    train = filter(train)
    val = filter(val)
}
let threads = Int(setting("threads", "2"))!
let imageSize = train.images[0].height
var vit = try ViTConfig.preset(setting("arch", "vit-test"), patch: Int(setting("patch", "4"))!, imageSize: imageSize)
if let d = settings["dim"] { vit.dim = Int(d)!; vit.mlpHidden = 4 * vit.dim }
if let h = settings["heads"] { vit.heads = Int(h)! }
if let d = settings["depth"] { vit.depth = Int(d)! }
vit.layerScale = Float(setting("layerscale", "1"))!
var c = PretrainConfig(vit: vit, images: Int(setting("images", String(train.images.count)))!)
c.localCrops = Int(setting("local-crops", "6"))!
c.localSize = Int(setting("local-size", "16"))!
c.epochs = Int(setting("epochs", "12"))!
c.batch = Int(setting("batch", "32"))!
c.baseLR = Double(setting("lr", "0.1"))!
c.teacherMomentum = Double(setting("momentum", "0.99"))!
c.prototypes = Int(setting("prototypes", "64"))!
c.hidden = Int(setting("hidden", "256"))!
c.bottleneck = Int(setting("bottleneck", "64"))!
c.koleo = Float(setting("koleo", "0.1"))!
c.centering = setting("centering", "sinkhorn") == "ema" ? .centering : .sinkhornKnopp
// Phase lengths in epochs (freeze=, warmup=, temp-warmup=) or as fractions of the run
// (freeze-fraction=, warmup-fraction=, temp-warmup-fraction=); default: the recipe's fractions.
func span(_ epochs: String, _ fraction: String, _ current: ScheduleSpan) -> ScheduleSpan {
    if let e = settings[epochs] { return .epochs(Double(e)!) }
    if let f = settings[fraction] { return .fraction(Double(f)!) }
    return current
}
c.freezeLastLayer = span("freeze", "freeze-fraction", c.freezeLastLayer)
c.warmup = span("warmup", "warmup-fraction", c.warmup)
c.teacherTemperatureWarmup = span("temp-warmup", "temp-warmup-fraction", c.teacherTemperatureWarmup)
c.seed = UInt64(setting("seed", "0"))!
if let s = settings["global-scale"] { let p = s.split(separator: ","); c.globalScale = Double(p[0])!...Double(p[1])! }
c.trainLastLayerG = setting("train-g", "0") == "1"
c.photometric = setting("photometric", "1") == "1"
if let s = settings["teacher-temp"] { let p = s.split(separator: ","); c.teacherTemperatureStart = Double(p[0])!; c.teacherTemperatureEnd = Double(p[1])! }
c.jitterStrength = Double(setting("jitter", "1"))!
c.grayscaleProbability = Double(setting("gray", "0.2"))!
c.solarizeProbability = Double(setting("solarize", "0.2"))!
if let s = settings["blur-sigma"] { let p = s.split(separator: ","); c.blurSigma = Double(p[0])!...Double(p[1])! }
if let s = settings["local-scale"] { let p = s.split(separator: ","); c.localScale = Double(p[0])!...Double(p[1])! }
c.maskProbability = Double(setting("mask-probability", "0.5"))!
let every = Int(setting("every", "50"))!
let knnEvery = Int(setting("knn-every", "200"))!
let classes = (train.labels.max() ?? 0) + 1
let images = Array(train.images.prefix(c.images))
if setting("mode", "ssl") == "supervised" {
    // The ceiling: the same backbone trained with labels (a linear classifier on the class
    // token, softmax cross-entropy), global crop 1 of the same augmentation, same schedule.
    try supervised(c, train: train, val: val, threads: threads, classes: (train.labels.max() ?? 0) + 1,
                   every: Int(setting("every", "50"))!)
    exit(0)
}
var trainer = try Trainer(config: c)
let probe = Array(train.images.prefix(64))
print("config: \(c.settings.map { "\($0.0)=\($0.1)" }.joined(separator: " "))")
print(try diagnose(trainer, step: 0, probe: probe, train: train, val: val, threads: threads, classes: classes, withKNN: true))
let start = Date()
while !trainer.finished {
    let batch = trainer.nextBatchIndices().map { images[$0] }
    let r = try trainer.trainStep(images: batch, threads: threads)
    if trainer.step % every == 0 || trainer.finished {
        print(String(format: "  log: dino %.3f ibot %.3f koleo %.3f grad %.2f head-grad %.2f lr %.4f  %.0f s",
                     r.dino, r.ibot, r.koleo, r.backboneGradNorm, r.headGradNorm, r.values.learningRate, Date().timeIntervalSince(start)))
        print(try diagnose(trainer, step: trainer.step, probe: probe, train: train, val: val, threads: threads, classes: classes,
                           withKNN: trainer.step % knnEvery == 0 || trainer.finished))
    }
}

/// Supervised training of `config.vit` for the diagnostics' ceiling (`mode=supervised`).
func supervised(_ config: PretrainConfig, train: (images: [ImageTensor], labels: [Int]),
                val: (images: [ImageTensor], labels: [Int]), threads: Int, classes: Int, every: Int) throws {
    var vit = ViT(randomlyInitialized: config.vit, seed: config.seed)
    let d = config.vit.dim, b = config.batch, side = config.vit.imageSize
    var head = NamedParameters([
        .init(name: "weight", values: [Float](repeating: 0, count: classes * d), info: ParameterInfo(shape: [classes, d])),
        .init(name: "bias", values: [Float](repeating: 0, count: classes), info: ParameterInfo(shape: [classes], weightDecay: false)),
    ])
    var optimizer = AdamW()
    let schedules = config.schedules, crop = config.multiCrop
    var order = FlowNumerics.SplitMix64(seed: config.seed)
    let start = Date()
    for step in 0..<config.iterations {
        if step % config.stepsPerEpoch == 0 { order = FlowNumerics.SplitMix64(seed: config.seed &+ UInt64(step)) }
        var flat: [Float] = [], labels: [Int] = []
        for i in 0..<b {
            let j = Int(order.next() % UInt64(train.images.count))
            var rng = AugmentRNG(seed: config.seed, index: UInt64(step * b + i))
            flat += crop(train.images[j], rng: &rng).globals[0].data
            labels.append(train.labels[j])
        }
        let out = try vit.forward(images: flat, batch: b, height: side, width: side, threads: threads, keepActivations: true)
        let cls = out.classTokens, w = head["weight"]!, bias = head["bias"]!
        var gw = [Float](repeating: 0, count: classes * d), gb = [Float](repeating: 0, count: classes)
        var gcls = [Float](repeating: 0, count: b * d)
        var loss = 0.0
        for r in 0..<b {
            var logits = (0..<classes).map { c in (0..<d).reduce(bias[c]) { $0 + w[c * d + $1] * cls[r * d + $1] } }
            let mx = logits.max()!
            logits = logits.map { exp($0 - mx) }
            let z = logits.reduce(0, +)
            loss -= Double(log(logits[labels[r]] / z))
            for c in 0..<classes {
                let g = (logits[c] / z - (c == labels[r] ? 1 : 0)) / Float(b)
                gb[c] += g
                for k in 0..<d { gw[c * d + k] += g * cls[r * d + k]; gcls[r * d + k] += g * w[c * d + k] }
            }
        }
        var grads = ViTGradients(zeros: config.vit)
        try vit.backward(out, tokenGradient: out.tokenGradient(classTokens: gcls), gradients: &grads, threads: threads)
        _ = GradientClipping.clip(&grads, maxNorm: config.clip)
        let v = schedules.values(at: step)
        optimizer.beginStep()
        try optimizer.update(&vit, gradients: grads, lr: v.learningRate, weightDecay: v.weightDecay, prefix: "backbone.")
        try optimizer.update(&head, gradients: NamedParameters([
            .init(name: "weight", values: gw, info: ParameterInfo(shape: [classes, d])),
            .init(name: "bias", values: gb, info: ParameterInfo(shape: [classes], weightDecay: false)),
        ]), lr: v.learningRate, weightDecay: v.weightDecay, prefix: "head.")
        if (step + 1) % every == 0 || step + 1 == config.iterations {
            let trc = try classTokens(vit, train.images, threads: threads)
            let vac = try classTokens(vit, val.images, threads: threads)
            print(String(format: "step %4d  loss %.3f  knn %.3f  %.0f s", step + 1, loss / Double(b),
                         knn(train: trc, trainLabels: train.labels, val: vac, valLabels: val.labels, classes: classes),
                         Date().timeIntervalSince(start)))
        }
    }
}
