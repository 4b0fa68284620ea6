// flow's side of the reference check (reference/check.py): each command reads its inputs from
// .npy or .safetensors files, runs one piece of FlowModels exactly as the trainer does, and
// writes its outputs as .npy. Built by reference/build.sh against the FlowModels objects; not
// part of `make test`.
//
//   forward MODEL IMAGES.npy OUT.npy [MASKS.npy]     final-normed tokens [B, T, D]
//   head HEAD.safetensors X.npy OUT.npy              DINOHead logits [rows, K]
//   targets MODE TEMP LOGITS.npy CENTER.npy OUTDIR   teacher targets, the centre after its update
//   dino STUDENT.npy TARGETS.npy OUTDIR              DINO loss over all (teacher, student crop) pairs
//   ibot STUDENT.npy TARGETS.npy MASKS.npy OUTDIR    iBOT masked-patch loss
//   koleo TOKENS.npy OUTDIR                          KoLeo (weight 0.1) over the 2 global crops
//   masks H W IMAGES BATCHES SEED OUT.npy            MaskGenerator.batch masks [BATCHES·IMAGES, H·W]
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
    default:
        fail("unknown command '\(command)'")
    }
} catch {
    fail("\(command): \(error)")
}
