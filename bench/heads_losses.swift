// One batch of DINOv2 head and loss work, in release: head forward/backward on all class tokens
// and on the masked patches, teacher targets, DINO/iBOT/KoLeo losses, block masks.
// Built by bench/heads-losses.sh against the release objects of FlowModels; not part of `make test`.
import FlowFormats
import FlowModels
import FlowNumerics
import Foundation

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// Median of `runs` timings of `body`, in milliseconds (one warm-up run first).
func time(_ runs: Int = 5, _ body: () throws -> Void) rethrows -> Double {
    try body()
    var t: [Double] = []
    for _ in 0..<runs {
        let s = now()
        try body()
        t.append((now() - s) * 1000)
    }
    return t.sorted()[t.count / 2]
}

let args = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let dim = args.count > 0 ? args[0] : 384
let batch = args.count > 1 ? args[1] : 16
let grid = args.count > 2 ? args[2] : 16
let locals = args.count > 3 ? args[3] : 8
let crops = 2 + locals
var rng = FlowModels.SplitMix64(seed: 1)
func matrix(_ r: Int, _ c: Int, std: Float = 1) -> Matrix {
    try! Matrix(rows: r, cols: c, data: (0..<(r * c)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 * std })
}

var maskRNG = AugmentRNG(seed: 1)
let generator = MaskGenerator(height: grid, width: grid)
var masks = generator.batch(images: 2 * batch, rng: &maskRNG)
let maskMs = time { masks = generator.batch(images: 2 * batch, rng: &maskRNG) }
let m = masks.maskedIndices.count
print("dim \(dim), batch \(batch), \(crops) crops (\(crops * batch) class tokens), grid \(grid)x\(grid), \(m) masked patches; 1 thread; median of 5, ms")
print(String(format: "%-40@ %8.2f", "masks for \(2 * batch) images" as NSString, maskMs))

for (hidden, bottleneck, k) in [(256, 64, 1024), (2048, 256, 4096)] {
    let head = DINOHead(randomlyInitialized: DINOHeadConfig(inputDim: dim, hidden: hidden, bottleneck: bottleneck, prototypes: k), seed: 2)
    print("head hidden \(hidden), bottleneck \(bottleneck), K \(k):")
    for (name, rows) in [("class tokens", crops * batch), ("masked patches", m)] {
        let x = matrix(rows, dim).data
        let g = matrix(rows, k, std: 1e-3).data
        let fwd = time { _ = head.forward(x, rows: rows, keepActivations: true) }
        let acts = head.forward(x, rows: rows, keepActivations: true).activations!
        let bwd = time { _ = head.backward(g, activations: acts) }
        print(String(format: "  %-38@ %8.2f  backward %8.2f", "head forward, \(rows) \(name)" as NSString, fwd, bwd))
    }
    let teacher = matrix(2 * batch, k), student = matrix(crops * batch, k)
    var centering = TeacherCentering(mode: .centering, prototypes: k)
    var sinkhorn = TeacherCentering(mode: .sinkhornKnopp, prototypes: k)
    let tc = try time { _ = try centering.targets(teacher, temperature: 0.04) }
    let ts = try time { _ = try sinkhorn.targets(teacher, temperature: 0.04) }
    let targets = try sinkhorn.targets(teacher, temperature: 0.04)
    let dino = try time { _ = try DINOLoss().evaluate(student: student, teacher: targets) }
    print(String(format: "  %-38@ %8.2f  Sinkhorn %8.2f", "DINO targets: centering" as NSString, tc, ts))
    print(String(format: "  %-38@ %8.2f", "DINO loss + gradient (\(2 * crops - 2) pairs)" as NSString, dino))
    let ps = matrix(m, k), pt = matrix(m, k)
    var ibotSK = TeacherCentering(mode: .sinkhornKnopp, prototypes: k)
    let its = try time { _ = try ibotSK.targets(pt, temperature: 0.04) }
    let ptargets = try ibotSK.targets(pt, temperature: 0.04)
    let images = masks.patchImages
    let ibot = try time { _ = try iBOTPatchLoss().evaluate(student: ps, teacher: ptargets, patchImages: images, images: 2 * batch) }
    print(String(format: "  %-38@ %8.2f  loss + gradient %8.2f", "iBOT Sinkhorn targets" as NSString, its, ibot))
}
let cls = matrix(2 * batch, dim)
let koleo = try time { _ = try KoLeoLoss().evaluate(cls) }
print(String(format: "%-40@ %8.2f", "KoLeo + gradient, \(2 * batch) x \(dim)" as NSString, koleo))
