// flow's side of the reference check (reference/check.py): each command reads its inputs from
// .npy or .safetensors files, runs one piece of FlowModels exactly as the trainer does, and
// writes its outputs as .npy. Built by reference/build.sh against the FlowModels objects; not
// part of `make test`.
//
//   forward MODEL IMAGES.npy OUT.npy [MASKS.npy]     final-normed tokens [B, T, D]
//   blocks MODEL IMAGES.npy N OUT.npy                final-normed class tokens of the last N blocks [N, B, D]
//   head HEAD.safetensors X.npy OUT.npy              DINOHead logits [rows, K]
//   head-init DIM HIDDEN BOTTLENECK K SEED OUT       the student head a Trainer of that seed starts from
//   targets MODE TEMP LOGITS.npy CENTER.npy OUTDIR   teacher targets, the centre after its update
//   dino STUDENT.npy TARGETS.npy OUTDIR              DINO loss over all (teacher, student crop) pairs
//   ibot STUDENT.npy TARGETS.npy MASKS.npy OUTDIR    iBOT masked-patch loss
//   koleo TOKENS.npy OUTDIR                          KoLeo (weight 0.1) over the 2 global crops
//   masks H W IMAGES BATCHES SEED OUT.npy            MaskGenerator.batch masks [BATCHES·IMAGES, H·W]
//   step SETTINGS.json MODEL HEAD INPUTS OUTDIR [IBOT_HEAD]  one training step from given weights, crops and
//       masks (INPUTS as --dump-inputs writes them): OUTDIR/losses.json, grads.safetensors
//       (unclipped gradients, "backbone." and "dino_head." names), after.safetensors (student and
//       teacher after clipping, AdamW and the EMA, "student."/"teacher." + the same names)
import FlowFormats
import FlowModels
import FlowNumerics
import Foundation

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("flow_side: \(message)\n".utf8))
    exit(2)
}

func load(_ path: String) throws -> (values: [Float], shape: [Int]) {
    let a = try NPY.read(path: path)
    if a.dtype == .bool || a.dtype == .uint8 {
        return (a.bytes.map { Float($0) }, a.shape)
    }
    return (try a.float32Values(), a.shape)
}

func matrix(_ path: String) throws -> Matrix {
    let (v, s) = try load(path)
    guard s.count == 2 else { fail("\(path): expected a 2-D array, got shape \(s)") }
    return try Matrix(rows: s[0], cols: s[1], data: v)
}

func save(_ values: [Float], _ shape: [Int], _ path: String) throws {
    try NPY.write(NPYArray(float32: values, shape: shape), to: path)
}

func saveLoss(_ r: LossResult, rows: Int, cols: Int, _ dir: String) throws {
    try save([r.loss], [], dir + "/loss.npy")
    try save(r.gradient.data, [rows, cols], dir + "/grad.npy")
}

func masksArgument(_ path: String) throws -> MaskBatch {
    let (v, s) = try load(path)
    guard s.count == 2 else { fail("\(path): masks must be [images, patches], got \(s)") }
    return MaskBatch(images: s[0], patches: s[1], masks: v.map { $0 != 0 }, upperbound: v.filter { $0 != 0 }.count)
}

func saveParameters(_ sets: [(prefix: String, list: [(name: String, values: [Float], info: ParameterInfo)])], _ path: String) throws {
    let all = sets.flatMap { set in set.list.map { (set.prefix + $0.name, $0.values, $0.info.shape) } }
    let writer = try SafetensorsWriter(path: path, tensors: all.map { ($0.0, SafetensorsDType.f32, $0.2) })
    for (name, values, _) in all { try writer.append(name, values) }
    try writer.finish()
}

/// One step of `Trainer` from the given weights and inputs, with the schedules pinned to the
/// values in `settings` (lr, weight decay, momentum and teacher temperature at step 0).
func loadHead(_ path: String) throws -> DINOHead {
    let file = try SafetensorsFile.read(path: path)
    guard let w1 = file.tensors["mlp.0.weight"]?.shape, let w3 = file.tensors["mlp.4.weight"]?.shape,
          let v = file.tensors["last_layer.weight_v"]?.shape else { fail("\(path): not a DINOHead state dict") }
    var head = DINOHead(zeros: DINOHeadConfig(inputDim: w1[1], hidden: w1[0], bottleneck: w3[0], prototypes: v[0]))
    try head.load(from: file.tensors, prefix: "", source: path)
    return head
}

func step(_ a: [String]) throws {
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: a[0]))) as! [String: Any]
    func number(_ key: String) -> Double { (json[key] as! NSNumber).doubleValue }
    let model = try ViT.load(path: a[1])
    let file = try SafetensorsFile.read(path: a[2])
    guard let w1 = file.tensors["mlp.0.weight"]?.shape, let w3 = file.tensors["mlp.4.weight"]?.shape,
          let v = file.tensors["last_layer.weight_v"]?.shape else { fail("\(a[2]): not a DINOHead state dict") }
    var head = DINOHead(zeros: DINOHeadConfig(inputDim: w1[1], hidden: w1[0], bottleneck: w3[0], prototypes: v[0]))
    try head.load(from: file.tensors, prefix: "", source: a[2])
    let globals = try NPY.read(path: a[3] + "/globals.npy"), locals = try NPY.read(path: a[3] + "/locals.npy")
    let masks = try masksArgument(a[3] + "/masks.npy")
    let b = globals.shape[0] / 2
    var c = PretrainConfig(vit: model.config, images: b)
    c.batch = b
    c.epochs = 1
    c.localCrops = locals.shape[0] / b
    c.localSize = locals.shape[2]
    (c.hidden, c.bottleneck, c.prototypes) = (head.config.hidden, head.config.bottleneck, head.config.prototypes)
    c.centering = CenteringMode(rawValue: json["centering"] as! String)!
    c.baseLR = number("lr") / (Double(b) / 1024).squareRoot()
    c.warmup = .fraction(0)
    c.freezeLastLayer = .fraction(0)
    c.teacherTemperatureWarmup = .fraction(0)
    (c.teacherTemperatureStart, c.teacherTemperatureEnd) = (number("teacher_temp"), number("teacher_temp"))
    c.weightDecay = number("weight_decay")...number("weight_decay")
    c.teacherMomentum = number("momentum")
    c.clip = number("clip")
    c.layerDecay = Float(number("layer_decay"))
    c.trainLastLayerG = true
    let ibotHead = a.count > 5 ? try loadHead(a[5]) : nil
    if let ibotHead {
        c.ibotSeparateHead = true
        (c.ibotHidden, c.ibotBottleneck, c.ibotPrototypes) = (ibotHead.config.hidden, ibotHead.config.bottleneck, ibotHead.config.prototypes)
    }
    var trainer = try Trainer(config: c, initial: model)
    trainer.studentHead = head
    trainer.teacherHead = head
    trainer.studentIBOTHead = ibotHead
    trainer.teacherIBOTHead = ibotHead
    let inputs = StepInputs(crops: CropBatch(batch: b, globals: try globals.float32Values(), locals: try locals.float32Values()),
                            masks: masks)
    var probe = trainer
    let g = try probe.forwardBackward(images: [], threads: 2, given: inputs)
    let losses: [String: Double] = ["dino": Double(g.dino), "ibot": Double(g.ibot), "koleo": Double(g.koleo)]
    try JSONSerialization.data(withJSONObject: losses).write(to: URL(fileURLWithPath: a[4] + "/losses.json"))
    try saveParameters([("backbone.", g.backbone.parameterList()), ("dino_head.", g.head.values.parameterList())]
                       + (g.ibotHead.map { [("ibot_head.", $0.values.parameterList())] } ?? []),
                       a[4] + "/grads.safetensors")
    _ = try trainer.trainStep(images: [], threads: 2, given: inputs)
    try saveParameters([("student.backbone.", trainer.student.parameterList()), ("student.dino_head.", trainer.studentHead.parameterList()),
                        ("teacher.backbone.", trainer.teacher.parameterList()), ("teacher.dino_head.", trainer.teacherHead.parameterList())]
                       + (trainer.studentIBOTHead.map { [("student.ibot_head.", $0.parameterList()),
                                                         ("teacher.ibot_head.", trainer.teacherIBOTHead!.parameterList())] } ?? []),
                       a[4] + "/after.safetensors")
}

let args = Array(CommandLine.arguments.dropFirst())
guard let command = args.first else { fail("usage: flow_side COMMAND ARGS (see the file's header)") }
let a = Array(args.dropFirst())
do {
    switch command {
    case "forward":
        let model = try ViT.load(path: a[0])
        let (images, s) = try load(a[1])
        guard s.count == 4, s[1] == 3 else { fail("\(a[1]): expected [B, 3, H, W], got \(s)") }
        var masks: [[Bool]]? = nil
        if a.count > 3 {
            let m = try masksArgument(a[3])
            masks = (0..<m.images).map { Array(m.masks[($0 * m.patches)..<(($0 + 1) * m.patches)]) }
        }
        let out = try model.forward(images: images, batch: s[0], height: s[2], width: s[3], threads: 2, masks: masks)
        try save(out.tokens, [out.batch, out.tokenCount, out.dim], a[2])
    case "blocks":
        let model = try ViT.load(path: a[0])
        let (images, s) = try load(a[1])
        let out = try model.forward(images: images, batch: s[0], height: s[2], width: s[3], threads: 2, lastBlocks: Int(a[2])!)
        let blocks = out.intermediateClassTokens!
        try save(blocks.flatMap { $0 }, [blocks.count, out.batch, out.dim], a[3])
    case "head-init":
        let (dim, hidden, bottleneck, k, seed) = (Int(a[0])!, Int(a[1])!, Int(a[2])!, Int(a[3])!, UInt64(a[4])!)
        let head = DINOHead(randomlyInitialized: DINOHeadConfig(inputDim: dim, hidden: hidden, bottleneck: bottleneck, prototypes: k),
                            seed: seed &+ 1)   // as Trainer.init
        try saveParameters([("", head.parameterList())], a[5])
    case "head":
        let file = try SafetensorsFile.read(path: a[0])
        guard let w1 = file.tensors["mlp.0.weight"]?.shape, let w3 = file.tensors["mlp.4.weight"]?.shape,
              let v = file.tensors["last_layer.weight_v"]?.shape else { fail("\(a[0]): not a DINOHead state dict") }
        var head = DINOHead(zeros: DINOHeadConfig(inputDim: w1[1], hidden: w1[0], bottleneck: w3[0], prototypes: v[0]))
        try head.load(from: file.tensors, prefix: "", source: a[0])
        let x = try matrix(a[1])
        let y = head.forward(x.data, rows: x.rows).output
        try save(y, [x.rows, head.config.prototypes], a[2])
    case "targets":
        guard let mode = CenteringMode(rawValue: a[0]) else { fail("mode must be centering or sinkhorn_knopp") }
        let temperature = Float(a[1])!
        let logits = try matrix(a[2])
        var centering = TeacherCentering(mode: mode, prototypes: logits.cols)
        centering.center = try load(a[3]).values
        let t = try centering.targets(logits, temperature: temperature)
        try save(t.data, [t.rows, t.cols], a[4] + "/targets.npy")
        try save(centering.center, [centering.center.count], a[4] + "/center.npy")
    case "dino":
        let student = try matrix(a[0]), teacher = try matrix(a[1])
        try saveLoss(try DINOLoss().evaluate(student: student, teacher: teacher), rows: student.rows, cols: student.cols, a[2])
    case "ibot":
        let student = try matrix(a[0]), teacher = try matrix(a[1]), masks = try masksArgument(a[2])
        let r = try iBOTPatchLoss().evaluate(student: student, teacher: teacher, patchImages: masks.patchImages, images: masks.images)
        try saveLoss(r, rows: student.rows, cols: student.cols, a[3])
    case "koleo":
        let tokens = try matrix(a[0])
        try saveLoss(try KoLeoLoss(weight: 0.1).evaluate(tokens, crops: 2), rows: tokens.rows, cols: tokens.cols, a[1])
    case "masks":
        let (h, w, images, batches, seed) = (Int(a[0])!, Int(a[1])!, Int(a[2])!, Int(a[3])!, UInt64(a[4])!)
        let generator = MaskGenerator(height: h, width: w)
        var rng = AugmentRNG(seed: seed)
        var flat: [Float] = []
        for _ in 0..<batches { flat += generator.batch(images: images, rng: &rng).masks.map { $0 ? 1 : 0 } }
        try save(flat, [batches * images, h * w], a[5])
    case "step":
        try step(a)
    default:
        fail("unknown command '\(command)'")
    }
} catch {
    fail("\(command): \(error)")
}
