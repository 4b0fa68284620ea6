/// The element types flow reads and writes in `.npy` files, named by NumPy's `descr` string.
/// Multi-byte types are little-endian; C order only.
public enum NPYDType: String, CaseIterable, Sendable {
    case float32 = "<f4", float16 = "<f2", int32 = "<i4", int64 = "<i8", uint8 = "|u1", bool = "|b1"

    /// Bytes per element.
    public var itemSize: Int {
        switch self {
        case .float32, .int32: return 4
        case .float16: return 2
        case .int64: return 8
        case .uint8, .bool: return 1
        }
    }
}

/// An n-dimensional array as stored in a `.npy` file: raw little-endian C-order bytes plus
/// dtype and shape. `shape == []` is a 0-d array holding one element.
public struct NPYArray: Equatable, Sendable {
    public var dtype: NPYDType
    public var shape: [Int]
    /// Raw little-endian C-order data; `bytes.count == count * dtype.itemSize`.
    public var bytes: [UInt8]

    /// Wraps raw bytes; throws if their number does not match `shape` and `dtype`.
    public init(dtype: NPYDType, shape: [Int], bytes: [UInt8]) throws {
        guard let size = NPY.byteCount(shape: shape, itemSize: dtype.itemSize) else {
            throw FormatError(path: "<array>", message: "shape \(NPY.shapeText(shape)) is invalid or too large")
        }
        guard size == bytes.count else {
            throw FormatError(path: "<array>", message:
                "shape \(NPY.shapeText(shape)) of \(dtype.rawValue) needs \(size) bytes, got \(bytes.count)")
        }
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// Number of elements: the product of `shape` (1 for a 0-d array).
    public var count: Int { shape.reduce(1, *) }

    public init(float32 values: [Float], shape: [Int]) {
        self.init(unchecked: .float32, shape: shape, values: values)
    }

    /// float16 from Float values, rounded to nearest even.
    public init(float16 values: [Float], shape: [Int]) {
        precondition(NPY.elementCount(shape) == values.count, "shape \(shape) does not hold \(values.count) values")
        self.dtype = .float16
        self.shape = shape
        self.bytes = Half.littleEndianBytes(values)
    }

    public init(int64 values: [Int64], shape: [Int]) {
        self.init(unchecked: .int64, shape: shape, values: values)
    }

    public init(int32 values: [Int32], shape: [Int]) {
        self.init(unchecked: .int32, shape: shape, values: values)
    }

    public init(uint8 values: [UInt8], shape: [Int]) {
        self.init(unchecked: .uint8, shape: shape, values: values)
    }

    public init(bool values: [Bool], shape: [Int]) {
        self.init(unchecked: .bool, shape: shape, values: values.map { $0 ? UInt8(1) : 0 })
    }

    private init<T>(unchecked dtype: NPYDType, shape: [Int], values: [T]) {
        precondition(NPY.elementCount(shape) == values.count, "shape \(shape) does not hold \(values.count) values")
        precondition(MemoryLayout<T>.stride == dtype.itemSize)
        self.dtype = dtype
        self.shape = shape
        // Every supported platform is little-endian, so memory order is file order.
        self.bytes = values.withUnsafeBytes { NPY.copyBytes($0) }
    }

    /// The elements as Float: float32 as is, float16 widened exactly. Throws for integer dtypes.
    public func float32Values() throws -> [Float] {
        switch dtype {
        case .float32: return bytes.withUnsafeBytes { NPY.load($0, as: Float.self) }
        case .float16: return bytes.withUnsafeBytes { Half.floats(fromLittleEndian: $0) }
        default:
            throw FormatError(path: "<array>", message: "expected a float array (<f4 or <f2), found \(dtype.rawValue)")
        }
    }

    /// The elements as Int64: int64 as is; int32, uint8 and bool widened. Throws for floats.
    public func int64Values() throws -> [Int64] {
        switch dtype {
        case .int64: return bytes.withUnsafeBytes { NPY.load($0, as: Int64.self) }
        case .int32: return bytes.withUnsafeBytes { NPY.load($0, as: Int32.self) }.map(Int64.init)
        case .uint8: return bytes.map(Int64.init)
        case .bool: return bytes.map { $0 == 0 ? 0 : 1 }
        default:
            throw FormatError(path: "<array>", message:
                "expected an integer array (<i8, <i4, |u1 or |b1), found \(dtype.rawValue)")
        }
    }
}
