/// Writes a large `.npy` file row by row, without holding the array in memory.
///
/// Either the full shape is known up front (`init(path:dtype:shape:)`) and `finish()` checks that
/// exactly that many bytes arrived, or only the shape of one row is (`init(path:dtype:rowShape:)`)
/// and the first axis is the number of rows appended, patched into the header by `finish()`.
/// NumPy leaves room for the first axis to grow to 21 digits without moving the data, so the
/// patched file is byte for byte what `np.save` writes for the same array. Until `finish()`
/// the data lives in a temporary file beside `path`; dropping the writer deletes it.
public final class NPYWriter {
    public let path: String
    public let dtype: NPYDType
    private let out: AtomicOutputFile
    private let rowShape: [Int]
    private let rowBytes: Int
    private let fixedRows: Int?
    private let headerLength: Int
    private var finished = false

    /// Data bytes appended so far (the header not included).
    public private(set) var bytesWritten = 0

    /// A writer for an array whose whole shape is known now (`shape` must have ≥ 1 axis,
    /// or be `[]` for a single element).
    public convenience init(path: String, dtype: NPYDType, shape: [Int]) throws {
        if shape.isEmpty {
            try self.init(path: path, dtype: dtype, rowShape: [], rows: nil, scalar: true)
        } else {
            try self.init(path: path, dtype: dtype, rowShape: Array(shape.dropFirst()), rows: shape[0], scalar: false)
        }
    }

    /// A writer that counts rows: the file's shape is `[rows appended] + rowShape`.
    public convenience init(path: String, dtype: NPYDType, rowShape: [Int]) throws {
        try self.init(path: path, dtype: dtype, rowShape: rowShape, rows: nil, scalar: false)
    }

    private init(path: String, dtype: NPYDType, rowShape: [Int], rows: Int?, scalar: Bool) throws {
        guard let rowBytes = NPY.byteCount(shape: rowShape, itemSize: dtype.itemSize),
              (rows ?? 0) >= 0, NPY.byteCount(shape: [rows ?? 0] + rowShape, itemSize: dtype.itemSize) != nil
        else {
            throw FormatError(path: path, message: "invalid shape \(NPY.shapeText((rows.map { [$0] } ?? []) + rowShape))")
        }
        self.path = path
        self.dtype = dtype
        self.rowShape = rowShape
        self.rowBytes = rowBytes
        self.fixedRows = scalar ? nil : rows
        self.isScalar = scalar
        out = try AtomicOutputFile(path: path)
        let header = NPY.headerBytes(dtype: dtype, shape: scalar ? [] : [rows ?? 0] + rowShape)
        headerLength = header.count
        try out.write(header)
    }

    private let isScalar: Bool

    /// The number of bytes the data must have when finished (nil while rows are being counted).
    public var expectedBytes: Int? {
        if isScalar { return dtype.itemSize }
        return fixedRows.map { $0 * rowBytes }
    }

    /// Appends raw little-endian elements (any number of bytes; rows may span calls).
    public func append(bytes: UnsafeRawBufferPointer) throws {
        precondition(!finished, "NPYWriter used after finish()")
        if let expected = expectedBytes, bytesWritten + bytes.count > expected {
            throw FormatError(path: path, message:
                "too much data: the shape \(NPY.shapeText(shapeSoFar)) holds \(expected) bytes, got \(bytesWritten + bytes.count)")
        }
        try out.write(bytes)
        bytesWritten += bytes.count
    }

    public func append(bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try append(bytes: $0) }
    }

    /// Appends Float values (dtype float32, or float16 with rounding to nearest even).
    public func append(_ values: [Float]) throws {
        switch dtype {
        case .float32: try values.withUnsafeBytes { try append(bytes: $0) }
        case .float16: try append(bytes: Half.littleEndianBytes(values))
        default: throw FormatError(path: path, message: "cannot append Float values to a \(dtype.rawValue) array")
        }
    }

    public func append(_ values: [Int64]) throws {
        guard dtype == .int64 else { throw FormatError(path: path, message: "cannot append Int64 values to a \(dtype.rawValue) array") }
        try values.withUnsafeBytes { try append(bytes: $0) }
    }

    public func append(_ values: [Int32]) throws {
        guard dtype == .int32 else { throw FormatError(path: path, message: "cannot append Int32 values to a \(dtype.rawValue) array") }
        try values.withUnsafeBytes { try append(bytes: $0) }
    }

    private var shapeSoFar: [Int] {
        if isScalar { return [] }
        return [fixedRows ?? (rowBytes == 0 ? 0 : bytesWritten / rowBytes)] + rowShape
    }

    /// Checks the amount of data, patches the row count into the header if needed, and renames
    /// the file into place. Returns the final shape.
    @discardableResult
    public func finish() throws -> [Int] {
        precondition(!finished, "NPYWriter.finish() called twice")
        if let expected = expectedBytes {
            guard bytesWritten == expected else {
                throw FormatError(path: path, message:
                    "incomplete: the shape \(NPY.shapeText(shapeSoFar)) needs \(expected) data bytes, \(bytesWritten) were written")
            }
        } else {
            guard rowBytes > 0 else {
                throw FormatError(path: path, message: "cannot count rows of zero size: give the full shape instead")
            }
            guard bytesWritten % rowBytes == 0 else {
                throw FormatError(path: path, message:
                    "incomplete last row: \(bytesWritten) bytes is not a multiple of the row size \(rowBytes)")
            }
            let header = NPY.headerBytes(dtype: dtype, shape: shapeSoFar)
            guard header.count == headerLength else {
                throw FormatError(path: path, message: "row count \(bytesWritten / rowBytes) too large to patch into the header")
            }
            try header.withUnsafeBytes { try out.write($0, at: 0) }
        }
        try out.commit()
        finished = true
        return shapeSoFar
    }
}
