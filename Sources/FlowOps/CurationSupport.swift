// Shared plumbing of the curation ops: reading embeddings, writing indices and JSON reports,
// and turning numeric errors into messages that name the file at fault.
import Foundation
import FlowFormats
import FlowNumerics

enum CurationIO {
    /// Sets the numeric core's threads (BLAS and its own loops) from --threads / FLOW_CPUS.
    static func configureThreads(_ explicit: Int?) -> Int {
        let n = StepEnvironment.threads(explicit)
        Numerics.setThreads(n)
        return n
    }

    /// Reads a 2-D float32 or float16 `.npy` as a matrix, checked for NaN and empty input.
    /// The data is copied once, straight from the mapped file into the matrix.
    static func readMatrix(_ path: String, what: String) throws -> Matrix {
        let m: Matrix
        do {
            m = try NPY.withMappedData(path: path) { dtype, shape, data -> Matrix in
                guard shape.count == 2 else {
                    throw OpError("\(path): \(what) must be a 2-D array [N, D], found shape \(shape)")
                }
                let count = shape[0] * shape[1]
                switch dtype {
                case .float32:
                    let values = [Float](unsafeUninitializedCapacity: count) { out, n in
                        UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(rebasing: data.prefix(count * 4)))
                        n = count
                    }
                    return try Matrix(rows: shape[0], cols: shape[1], data: values)
                case .float16:
                    let values = try NPYArray(dtype: .float16, shape: [count], bytes: Array(data)).float32Values()
                    return try Matrix(rows: shape[0], cols: shape[1], data: values)
                default:
                    throw OpError("\(path): \(what) must be float32 or float16, found \(dtype.rawValue)")
                }
            }
        } catch let e as FormatError {
            throw OpError("\(e.description) (\(what); expected a 2-D float32 .npy [N, D])")
        }
        try check(path) { try m.validate(what) }
        return m
    }

    /// Reads a 1-D integer `.npy` (int64, int32, uint8 or bool) as Ints.
    static func readIndices(_ path: String, what: String) throws -> [Int] {
        let array: NPYArray
        do { array = try NPY.read(path: path) } catch let e as FormatError {
            throw OpError("\(e.description) (\(what); expected a 1-D int64 .npy)")
        }
        guard array.shape.count == 1 else {
            throw OpError("\(path): \(what) must be a 1-D array, found shape \(array.shape)")
        }
        do { return try array.int64Values().map { Int($0) } } catch {
            throw OpError("\(path): \(what) must be an integer array, found \(array.dtype.rawValue)")
        }
    }

    static func writeMatrix(_ m: Matrix, to path: String) throws {
        try write(path) { try NPY.write(NPYArray(float32: m.data, shape: [m.rows, m.cols]), to: path) }
    }

    /// Writes int64 indices, 1-D unless `shape` says otherwise (e.g. [Q, k]).
    static func writeIndices(_ values: [Int], shape: [Int]? = nil, to path: String) throws {
        try write(path) { try NPY.write(NPYArray(int64: values.map(Int64.init), shape: shape ?? [values.count]), to: path) }
    }

    static func writeScores(_ values: [Float], shape: [Int], to path: String) throws {
        try write(path) { try NPY.write(NPYArray(float32: values, shape: shape), to: path) }
    }

    /// Writes a JSON document with sorted keys (stable bytes for the same content).
    static func writeJSON(_ object: Any, to path: String) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try write(path) { try (data + Data("\n".utf8)).write(to: URL(fileURLWithPath: path), options: .atomic) }
    }

    static func makeDirectory(_ path: String) throws {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw OpError("\(path): cannot create the output directory: \(error.localizedDescription)")
        }
    }

    /// Runs `body`; a NumericsError becomes an OpError naming `path`.
    static func check<R>(_ path: String, _ body: () throws -> R) throws -> R {
        do { return try body() } catch let e as NumericsError { throw OpError("\(path): \(e.message)") }
    }

    private static func write(_ path: String, _ body: () throws -> Void) throws {
        do { try body() } catch let e as FormatError { throw OpError(e.description) } catch let e as OpError { throw e } catch {
            throw OpError("\(path): cannot write: \(error.localizedDescription)")
        }
    }

    /// Parses "1000,500,50" into integers; `name` is the option in the message.
    static func intList(_ text: String, _ name: String) throws -> [Int] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        return try parts.map { p in
            guard let v = Int(p) else { throw OpError("--\(name): '\(p)' is not an integer (expected a list like 1000,500,50)") }
            return v
        }
    }

    /// Seconds since `start`, for the summary line on stderr.
    static func elapsed(_ start: Date) -> String { String(format: "%.2f s", Date().timeIntervalSince(start)) }
}

/// Rows of a 2-D float `.npy`, read block by block from a mapped file: memory holds one block
/// at a time, so a pool larger than RAM can be searched (the page cache pages it in and out).
final class NPYRowFile: RowSource {
    let path: String
    let rowCount: Int
    let dimension: Int
    private let dtype: NPYDType
    private let dataOffset: Int
    private let file: MappedFile

    init(path: String, what: String) throws {
        let header: (dtype: NPYDType, shape: [Int], dataOffset: Int)
        do { header = try NPY.readHeader(path: path) } catch let e as FormatError {
            throw OpError("\(e.description) (\(what); expected a 2-D float32 .npy [N, D])")
        }
        guard header.shape.count == 2 else {
            throw OpError("\(path): \(what) must be a 2-D array [N, D], found shape \(header.shape)")
        }
        guard header.dtype == .float32 || header.dtype == .float16 else {
            throw OpError("\(path): \(what) must be float32 or float16, found \(header.dtype.rawValue)")
        }
        guard header.shape[0] > 0, header.shape[1] > 0 else {
            throw OpError("\(path): \(what) is empty (shape \(header.shape)): nothing to search")
        }
        self.path = path
        (dtype, rowCount, dimension, dataOffset) = (header.dtype, header.shape[0], header.shape[1], header.dataOffset)
        do { file = try MappedFile(path: path) } catch let e as FormatError { throw OpError(e.description) }
    }

    func readRows(_ range: Range<Int>) throws -> Matrix {
        let item = dtype == .float32 ? 4 : 2
        let start = dataOffset + range.lowerBound * dimension * item
        let bytes = range.count * dimension * item
        let values: [Float] = file.withBytes { all in
            let raw = UnsafeRawBufferPointer(rebasing: all[start..<(start + bytes)])
            if dtype == .float32 {
                return [Float](unsafeUninitializedCapacity: range.count * dimension) { out, n in
                    UnsafeMutableRawBufferPointer(out).copyMemory(from: raw)
                    n = range.count * dimension
                }
            }
            return (try? NPYArray(dtype: .float16, shape: [range.count * dimension], bytes: Array(raw)).float32Values()) ?? []
        }
        return try Matrix(rows: range.count, cols: dimension, data: values)
    }
}
