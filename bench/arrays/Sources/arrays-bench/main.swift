// usage: arrays-bench DIR ROWS COLS — writes and reads a ROWS×COLS float32 array as .npy
// (whole, and streamed in 4096-row blocks) and as safetensors; prints the best of 3 per case.
import FlowFormats
import Foundation

let args = CommandLine.arguments
guard args.count == 4, let rows = Int(args[2]), let cols = Int(args[3]) else {
    print("usage: arrays-bench DIR ROWS COLS"); exit(64)
}
let dir = args[1]
var state: UInt32 = 12345
let values = (0..<(rows * cols)).map { _ -> Float in state = state &* 1_664_525 &+ 1_013_904_223; return Float(state >> 8) / 8_388_608 - 1 }
let megabytes = Double(rows * cols * 4) / 1e6

func time(_ name: String, _ body: () throws -> Void) rethrows {
    var best = Double.infinity
    for _ in 0..<3 {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    print(String(format: "flow  %@ %8.3f s  %7.0f MB/s", name.padding(toLength: 30, withPad: " ", startingAt: 0) as NSString, best, megabytes / best))
}

let array = NPYArray(float32: values, shape: [rows, cols])
let npy = dir + "/flow.npy", st = dir + "/flow.safetensors"
try time("npy write") { try NPY.write(array, to: npy) }
try time("npy write streamed (4096 rows)") {
    let w = try NPYWriter(path: npy, dtype: .float32, rowShape: [cols])
    for start in stride(from: 0, to: rows, by: 4096) {
        try w.append(Array(values[(start * cols)..<(min(rows, start + 4096) * cols)]))
    }
    try w.finish()
}
try time("npy read") { _ = try NPY.read(path: npy) }
try time("npy read + float32Values") { _ = try NPY.read(path: npy).float32Values() }
try time("npy mapped sum (no copy)") {
    let s = try NPY.withMappedData(path: npy) { _, _, data -> Float in
        var s: Float = 0
        for i in 0..<(data.count / 4) { s += data.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
        return s
    }
    if s.isNaN { print("nan") }
}
try time("baseline: pread into [UInt8]") {
    let fd = open(npy, O_RDONLY)
    var st = stat(); fstat(fd, &st)
    let n = Int(st.st_size)
    let a = [UInt8](unsafeUninitializedCapacity: n) { buf, done in
        var off = 0
        while off < n { let r = pread(fd, buf.baseAddress! + off, n - off, off_t(off)); if r <= 0 { break }; off += r }
        done = n
    }
    close(fd)
    if a.count != n { print("short") }
}
try time("baseline: mmap populate + copy") {
    let m = try MappedFile(path: npy, populate: true)
    let a = m.withBytes { copy($0) }
    if a.count == 0 { print("empty") }
}
func copy(_ raw: UnsafeRawBufferPointer) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: raw.count) { out, initialized in
        UnsafeMutableRawBufferPointer(out).copyMemory(from: raw); initialized = raw.count
    }
}
let file = SafetensorsFile(tensors: ["emb": Tensor(float32: values, shape: [rows, cols])])
try time("safetensors write") { try file.write(to: st) }
try time("safetensors read") { _ = try SafetensorsFile.read(path: st) }
