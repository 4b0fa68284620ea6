// Forward and backward time per ViT layer type and for a whole small ViT, in release.
// Built by bench/train-layers.sh against the release objects of FlowModels; not part of `make test`.
import FlowModels
import FlowNumerics
import Foundation

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// Median of `runs` timings of `body`, in milliseconds (one warm-up run first).
func time(_ runs: Int, _ body: () throws -> Void) rethrows -> Double {
    try body()
    var t: [Double] = []
    for _ in 0..<runs {
        let s = now()
        try body()
        t.append((now() - s) * 1000)
    }
    return t.sorted()[t.count / 2]
}

func noise(_ n: Int, _ rng: inout FlowModels.SplitMix64, _ scale: Float = 1) -> [Float] {
    (0..<n).map { _ in Float(Int64(bitPattern: rng.next() % 2001) - 1000) / 1000 * scale }
}

let args = CommandLine.arguments
let threads = args.count > 1 ? Int(args[1]) ?? 1 : 1
let arch = args.count > 2 ? args[2] : "vit-tiny"
let side = args.count > 3 ? Int(args[3]) ?? 112 : 112
let batch = args.count > 4 ? Int(args[4]) ?? 8 : 8
let runs = 5
let config = try ViTConfig.preset(arch, patch: 14, imageSize: side)
let d = config.dim, h = config.mlpHidden
let tokens = 1 + (side / 14) * (side / 14)
let rows = batch * tokens
var rng = FlowModels.SplitMix64(seed: 1)
print("\(config), batch \(batch) at \(side)x\(side) = \(tokens) tokens/image, \(threads) thread(s), median of \(runs)")
func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
print(pad("layer", 14) + lpad("fwd ms", 10) + lpad("bwd ms", 10) + lpad("bwd/fwd", 9) + lpad("GFLOP/s f+b", 13))

func report(_ name: String, _ fwd: Double, _ bwd: Double, flops: Double? = nil) {
    let rate = flops.map { String(format: "%.1f", $0 / ((fwd + bwd) / 1000) / 1e9) } ?? "-"
    print(pad(name, 14) + lpad(String(format: "%.2f", fwd), 10) + lpad(String(format: "%.2f", bwd), 10)
          + lpad(String(format: "%.2f", bwd / fwd), 9) + lpad(rate, 13))
}

let model = ViT(randomlyInitialized: config, seed: 1)
let block = model.blocks[0]
let x = noise(rows * d, &rng)
Numerics.setThreads(threads)

// LayerNorm
do {
    let (_, stats) = block.norm1.forwardWithStatistics(x, rows: rows, threads: threads)
    var g = LayerNorm(dim: d)
    let f = time(runs) { _ = block.norm1.forwardWithStatistics(x, rows: rows, threads: threads) }
    let b = time(runs) { _ = block.norm1.backward(input: x, statistics: stats, outputGradient: x, rows: rows, gradients: &g, threads: threads) }
    report("LayerNorm", f, b)
}
// Linear (qkv)
do {
    var g = Linear(inFeatures: d, outFeatures: 3 * d)
    let dy = noise(rows * 3 * d, &rng)
    let f = time(runs) { _ = block.attn.qkv.forward(x, rows: rows) }
    let b = time(runs) { _ = block.attn.qkv.backward(input: x, outputGradient: dy, rows: rows, gradients: &g) }
    report("Linear qkv", f, b, flops: 3 * 2 * Double(rows) * Double(d) * Double(3 * d))
}
// Attention (qkv + softmax attention + proj)
do {
    let (_, acts) = block.attn.forward(x, batch: batch, tokens: tokens, threads: threads, keepActivations: true)
    var g = Attention(dim: d, heads: config.heads)
    let f = time(runs) { _ = block.attn.forward(x, batch: batch, tokens: tokens, threads: threads, keepActivations: true) }
    let b = time(runs) { _ = block.attn.backward(input: x, activations: acts!, outputGradient: x, batch: batch, tokens: tokens, gradients: &g, threads: threads) }
    let t = Double(tokens), n = Double(batch)
    let fl = 3 * (2 * Double(rows) * Double(d) * Double(4 * d) + n * 2 * 2 * t * t * Double(d))
    report("Attention", f, b, flops: fl)
}
// MLP
do {
    let (_, acts) = block.mlp.forward(x, rows: rows, threads: threads, keepActivations: true)
    var g = MLP(dim: d, hidden: h)
    let f = time(runs) { _ = block.mlp.forward(x, rows: rows, threads: threads, keepActivations: true) }
    let b = time(runs) { _ = block.mlp.backward(input: x, activations: acts!, outputGradient: x, rows: rows, gradients: &g, threads: threads) }
    report("MLP (GELU)", f, b, flops: 3 * 2 * 2 * Double(rows) * Double(d) * Double(h))
}
// Block (LayerScale on)
do {
    var y = x
    let acts = block.forward(&y, batch: batch, tokens: tokens, threads: threads, keepActivations: true)!
    var g = block
    let f = time(runs) { var z = x; _ = block.forward(&z, batch: batch, tokens: tokens, threads: threads, keepActivations: true) }
    let b = time(runs) { _ = block.backward(activations: acts, outputGradient: x, batch: batch, tokens: tokens, gradients: &g, threads: threads) }
    report("Block", f, b)
}
// Whole ViT (patch embed, pos embed, blocks, norm) + AdamW step
do {
    let images = noise(batch * 3 * side * side, &rng)
    let out = try model.forward(images: images, batch: batch, height: side, width: side, threads: threads, keepActivations: true)
    let tg = noise(out.tokens.count, &rng)
    var grads = ViTGradients(zeros: config)
    let f = try time(runs) { _ = try model.forward(images: images, batch: batch, height: side, width: side, threads: threads, keepActivations: true) }
    let b = try time(runs) { try model.backward(out, tokenGradient: tg, gradients: &grads, threads: threads) }
    let fl = 3 * config.forwardFLOPs(height: side, width: side) * Double(batch)
    report("ViT (whole)", f, b, flops: fl)
    var student = model
    var adam = AdamW()
    let s = try time(runs) {
        adam.beginStep()
        try adam.update(&student, gradients: grads, lr: 1e-4, weightDecay: 0.04)
    }
    let c = time(runs) { GradientClipping.clip(&grads, maxNorm: 3) }
    var teacher = model
    let e = try time(runs) { try EMA.update(teacher: &teacher, student: student, momentum: 0.994) }
    print(String(format: "AdamW step %.2f ms, clip %.2f ms, EMA %.2f ms (%d parameters)", s, c, e, model.parameterCount))
}
