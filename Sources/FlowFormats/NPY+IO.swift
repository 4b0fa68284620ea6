/// Reading and writing NumPy `.npy` files (format versions 1.0, 2.0 and 3.0).
///
/// Files are read through `mmap`; `write` produces exactly the bytes `np.save` would, under a
/// temporary name renamed into place. For arrays too large to hold in memory, write with
/// `NPYWriter` and read with `withMappedData`.
public enum NPY {
    /// Reads a whole array: the header through a mapping, the data with one pread.
    public static func read(path: String) throws -> NPYArray {
        let file = try MappedFile(path: path)
        let h = try file.withBytes { try parseHeader($0, path: path) }
        return try NPYArray(dtype: h.dtype, shape: h.shape, bytes: file.copyBytes(h.dataOffset..<(h.dataOffset + h.dataSize)))
    }

    /// Parses a `.npy` image held in memory (for example a `.npy` entry of a shard);
    /// `path` names it in errors.
    public static func decode(_ bytes: UnsafeRawBufferPointer, path: String = "<memory>") throws -> NPYArray {
        let h = try parseHeader(bytes, path: path)
        let data = copyBytes(UnsafeRawBufferPointer(rebasing: bytes[h.dataOffset..<(h.dataOffset + h.dataSize)]))
        return try NPYArray(dtype: h.dtype, shape: h.shape, bytes: data)
    }

    public static func decode(_ bytes: [UInt8], path: String = "<memory>") throws -> NPYArray {
        try bytes.withUnsafeBytes { try decode($0, path: path) }
    }

    /// The dtype, shape and data offset, after checking that the file size matches them.
    public static func readHeader(path: String) throws -> (dtype: NPYDType, shape: [Int], dataOffset: Int) {
        let file = try MappedFile(path: path)
        let h = try file.withBytes { try parseHeader($0, path: path) }
        return (h.dtype, h.shape, h.dataOffset)
    }

    /// Lends the mapped data bytes of a `.npy` file to `body` without copying them
    /// (raw little-endian C order; not necessarily aligned for the element type).
    public static func withMappedData<R>(
        path: String, _ body: (_ dtype: NPYDType, _ shape: [Int], _ data: UnsafeRawBufferPointer) throws -> R
    ) throws -> R {
        let file = try MappedFile(path: path)
        return try file.withBytes { bytes in
            let h = try parseHeader(bytes, path: path)
            return try body(h.dtype, h.shape, UnsafeRawBufferPointer(rebasing: bytes[h.dataOffset..<(h.dataOffset + h.dataSize)]))
        }
    }

    /// The exact bytes `np.save` writes for `array`.
    public static func encode(_ array: NPYArray) -> [UInt8] {
        headerBytes(dtype: array.dtype, shape: array.shape) + array.bytes
    }

    /// Writes `array` to `path` (temporary file + rename); the bytes equal `np.save`'s.
    public static func write(_ array: NPYArray, to path: String) throws {
        let out = try AtomicOutputFile(path: path)
        try out.write(headerBytes(dtype: array.dtype, shape: array.shape))
        try out.write(array.bytes)
        try out.commit()
    }

    /// The bytes as an array, by one memcpy (`Array(raw)` copies byte by byte, ~10× slower).
    static func copyBytes(_ raw: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: raw.count) { out, initialized in
            if raw.count > 0 { UnsafeMutableRawBufferPointer(out).copyMemory(from: raw) }
            initialized = raw.count
        }
    }

    /// Copies little-endian elements out of possibly unaligned bytes.
    static func load<T>(_ bytes: UnsafeRawBufferPointer, as: T.Type) -> [T] {
        let n = bytes.count / MemoryLayout<T>.stride
        return [T](unsafeUninitializedCapacity: n) { out, initialized in
            if n > 0 { UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<(n * MemoryLayout<T>.stride)])) }
            initialized = n
        }
    }
}
