/// The element types of the safetensors format, by their header name.
///
/// All are read and written as raw bytes; `Tensor.float32Values()` converts F32, F16, BF16 and
/// F64. The case order is the reference implementation's (`Dtype` in safetensors' tensor.rs),
/// which its writer uses to order tensors: larger types first.
public enum SafetensorsDType: String, CaseIterable, Sendable {
    case bool = "BOOL", f4 = "F4", f6e2m3 = "F6_E2M3", f6e3m2 = "F6_E3M2"
    case u8 = "U8", i8 = "I8", f8e5m2 = "F8_E5M2", f8e4m3 = "F8_E4M3", f8e8m0 = "F8_E8M0"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
    case i32 = "I32", u32 = "U32", f32 = "F32", c64 = "C64", f64 = "F64", i64 = "I64", u64 = "U64"

    /// Bits per element (4 and 6 for the packed float formats).
    public var bitSize: Int {
        switch self {
        case .f4: return 4
        case .f6e2m3, .f6e3m2: return 6
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3, .f8e8m0: return 8
        case .i16, .u16, .f16, .bf16: return 16
        case .i32, .u32, .f32: return 32
        case .c64, .f64, .i64, .u64: return 64
        }
    }

    /// Position in the reference enum; the writer sorts by it, descending.
    var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }

    /// Bytes for `shape`, or nil on overflow, a negative dimension, or a packed type whose
    /// element count does not fill whole bytes.
    func byteCount(shape: [Int]) -> Int? {
        guard let n = NPY.elementCount(shape) else { return nil }
        let (bits, o) = n.multipliedReportingOverflow(by: bitSize)
        guard !o, bits % 8 == 0 else { return nil }
        return bits / 8
    }
}

/// One tensor of a safetensors file: raw little-endian C-order bytes, dtype and shape.
public struct Tensor: Equatable, Sendable {
    public var dtype: SafetensorsDType
    public var shape: [Int]
    public var bytes: [UInt8]

    /// Wraps raw bytes; throws if their number does not match `shape` and `dtype`.
    public init(dtype: SafetensorsDType, shape: [Int], bytes: [UInt8]) throws {
        guard let size = dtype.byteCount(shape: shape) else {
            throw FormatError(path: "<tensor>", message: "shape \(shape) of \(dtype.rawValue) is invalid or too large")
        }
        guard size == bytes.count else {
            throw FormatError(path: "<tensor>", message: "shape \(shape) of \(dtype.rawValue) needs \(size) bytes, got \(bytes.count)")
        }
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// An F32 tensor.
    public init(float32 values: [Float], shape: [Int]) {
        precondition(NPY.elementCount(shape) == values.count, "shape \(shape) does not hold \(values.count) values")
        dtype = .f32
        self.shape = shape
        bytes = values.withUnsafeBytes { NPY.copyBytes($0) }
    }

    /// An F16 or BF16 tensor from Float values (rounded to nearest even), or F32.
    public init(_ values: [Float], shape: [Int], as dtype: SafetensorsDType) {
        precondition(NPY.elementCount(shape) == values.count, "shape \(shape) does not hold \(values.count) values")
        switch dtype {
        case .f16: bytes = Half.littleEndianBytes(values)
        case .bf16: bytes = BFloat16.littleEndianBytes(values)
        case .f32: bytes = values.withUnsafeBytes { NPY.copyBytes($0) }
        default: preconditionFailure("Tensor(_:shape:as:) takes F32, F16 or BF16, not \(dtype.rawValue)")
        }
        self.dtype = dtype
        self.shape = shape
    }

    /// An I64 tensor.
    public init(int64 values: [Int64], shape: [Int]) {
        precondition(NPY.elementCount(shape) == values.count, "shape \(shape) does not hold \(values.count) values")
        dtype = .i64
        self.shape = shape
        bytes = values.withUnsafeBytes { NPY.copyBytes($0) }
    }

    /// Number of elements (1 for a 0-d tensor).
    public var count: Int { shape.reduce(1, *) }

    /// The elements as Float: F32 as is, F16 and BF16 widened exactly, F64 rounded.
    /// Throws for other dtypes.
    public func float32Values() throws -> [Float] {
        try bytes.withUnsafeBytes { raw in
            switch dtype {
            case .f32: return NPY.load(raw, as: Float.self)
            case .f16: return Half.floats(fromLittleEndian: raw)
            case .bf16: return BFloat16.floats(fromLittleEndian: raw)
            case .f64: return NPY.load(raw, as: Double.self).map(Float.init)
            default:
                throw FormatError(path: "<tensor>", message: "expected a float tensor (F32, F16, BF16, F64), found \(dtype.rawValue)")
            }
        }
    }

    /// The elements as Int64: I64 as is; I32, I16, I8, U32, U16, U8 and BOOL widened.
    /// Throws for floats and U64.
    public func int64Values() throws -> [Int64] {
        try bytes.withUnsafeBytes { raw in
            switch dtype {
            case .i64: return NPY.load(raw, as: Int64.self)
            case .i32: return NPY.load(raw, as: Int32.self).map(Int64.init)
            case .u32: return NPY.load(raw, as: UInt32.self).map(Int64.init)
            case .i16: return NPY.load(raw, as: Int16.self).map(Int64.init)
            case .u16: return NPY.load(raw, as: UInt16.self).map(Int64.init)
            case .i8: return raw.map { Int64(Int8(bitPattern: $0)) }
            case .u8: return raw.map(Int64.init)
            case .bool: return raw.map { $0 == 0 ? 0 : 1 }
            default:
                throw FormatError(path: "<tensor>", message: "expected an integer tensor, found \(dtype.rawValue)")
            }
        }
    }
}

/// A safetensors file: named tensors plus optional string metadata (`__metadata__`).
///
/// `read` maps the file and checks every rule of the reference implementation; `write` produces
/// the bytes the reference writer would (tensor order, JSON layout, padding), with metadata
/// keys sorted so that output is deterministic.
public struct SafetensorsFile: Equatable, Sendable {
    public var tensors: [String: Tensor]
    public var metadata: [String: String]

    public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Reads and validates the whole file (the header through the mapping, tensors with pread).
    public static func read(path: String) throws -> SafetensorsFile {
        let file = try MappedFile(path: path)
        let header = try file.withBytes { try SafetensorsHeader.parse($0, path: path) }
        var tensors: [String: Tensor] = [:]
        for t in header.tensors {
            let bytes = try file.copyBytes((header.dataStart + t.begin)..<(header.dataStart + t.end))
            tensors[t.name] = try Tensor(dtype: t.dtype, shape: t.shape, bytes: bytes)
        }
        return SafetensorsFile(tensors: tensors, metadata: header.metadata)
    }

    /// Parses a safetensors image in memory; `path` names it in errors.
    public static func decode(_ bytes: UnsafeRawBufferPointer, path: String = "<memory>") throws -> SafetensorsFile {
        let header = try SafetensorsHeader.parse(bytes, path: path)
        var tensors: [String: Tensor] = [:]
        for t in header.tensors {
            let range = (header.dataStart + t.begin)..<(header.dataStart + t.end)
            tensors[t.name] = try Tensor(dtype: t.dtype, shape: t.shape, bytes: NPY.copyBytes(UnsafeRawBufferPointer(rebasing: bytes[range])))
        }
        return SafetensorsFile(tensors: tensors, metadata: header.metadata)
    }

    public static func decode(_ bytes: [UInt8], path: String = "<memory>") throws -> SafetensorsFile {
        try bytes.withUnsafeBytes { try decode($0, path: path) }
    }

    /// The names, dtypes, shapes and byte ranges of the tensors, in file order, and the metadata,
    /// without copying any tensor data.
    public static func readHeader(path: String) throws -> (tensors: [SafetensorsTensorInfo], metadata: [String: String]) {
        let file = try MappedFile(path: path)
        let h = try file.withBytes { try SafetensorsHeader.parse($0, path: path) }
        return (h.tensors, h.metadata)
    }

    /// The file's bytes, as the reference writer lays them out.
    public func encode() throws -> [UInt8] {
        let layout = try SafetensorsHeader.layout(tensors.map { ($0.key, $0.value.dtype, $0.value.shape) }, metadata: metadata, path: "<memory>")
        var out = layout.prefix
        out.reserveCapacity(layout.prefix.count + layout.dataSize)
        for t in layout.tensors {
            guard let tensor = tensors[t.name], tensor.bytes.count == t.end - t.begin else {
                throw FormatError(path: "<memory>", message: "tensor '\(t.name)' has a byte count that does not match its shape")
            }
            out += tensor.bytes
        }
        return out
    }

    /// Writes the file under a temporary name and renames it into place.
    public func write(to path: String) throws {
        let layout = try SafetensorsHeader.layout(tensors.map { ($0.key, $0.value.dtype, $0.value.shape) }, metadata: metadata, path: path)
        let out = try AtomicOutputFile(path: path)
        try out.write(layout.prefix)
        for t in layout.tensors {
            guard let tensor = tensors[t.name], tensor.bytes.count == t.end - t.begin else {
                throw FormatError(path: path, message: "tensor '\(t.name)' has a byte count that does not match its shape")
            }
            try out.write(tensor.bytes)
        }
        try out.commit()
    }
}

/// Where one tensor lives in a safetensors file.
public struct SafetensorsTensorInfo: Equatable, Sendable {
    public var name: String
    public var dtype: SafetensorsDType
    public var shape: [Int]
    /// Byte range relative to the start of the data buffer (file offset 8 + header length).
    public var begin: Int
    public var end: Int
}
