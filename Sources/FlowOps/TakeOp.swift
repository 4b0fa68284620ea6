import ArgumentParser
import FlowFormats

/// `flow op take`: rows of an array at given indices. It joins the curation steps: embeddings
/// kept by `dedup`, or indices of a subset mapped back to the rows of the whole pool.
struct TakeOp: FlowOp {
    static let configuration = CommandConfiguration(
        commandName: "take",
        abstract: "Take the rows of an .npy array at the positions listed in an index .npy.",
        discussion: """
            OUT[i] = ARRAY[INDEX[i]] along the first axis, for any dtype and shape. Examples: the \
            embeddings kept by dedup (`--array emb.npy --index keep.npy`), or positions chosen in \
            a subset mapped back to the whole pool (`--array keep.npy --index sample.npy`).
            """)
    static let version = 1

    @Option(help: "The array (.npy, any dtype, at least 1-D).")
    var array: String

    @Option(help: "Row positions: a 1-D integer .npy.")
    var index: String

    @Option(help: "Output .npy.")
    var out: String

    func run() throws {
        let a = try NPY.read(path: array)
        let idx = try NPY.read(path: index)
        guard idx.shape.count == 1 else {
            throw OpError("\(index): expected a 1-D index array, got shape \(idx.shape)")
        }
        let positions = try idx.int64Values()
        guard let rows = a.shape.first else { throw OpError("\(array): a 0-D array has no rows to take") }
        let rowBytes = a.shape.dropFirst().reduce(1, *) * a.dtype.itemSize
        var bytes = [UInt8]()
        bytes.reserveCapacity(positions.count * rowBytes)
        for (i, p) in positions.enumerated() {
            guard p >= 0 && p < Int64(rows) else {
                throw OpError("\(index): entry \(i) is \(p), outside the \(rows) rows of \(array)")
            }
            let start = Int(p) * rowBytes
            bytes.append(contentsOf: a.bytes[start..<(start + rowBytes)])
        }
        let result = try NPYArray(dtype: a.dtype, shape: [positions.count] + a.shape.dropFirst(), bytes: bytes)
        try NPY.write(result, to: out)
        print("take: \(positions.count) of \(rows) rows of \(array) -> \(out)")
    }
}
