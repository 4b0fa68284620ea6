/// Writes a safetensors file tensor by tensor, for checkpoints and embeddings too large to
/// assemble in memory.
///
/// Every tensor's name, dtype and shape is declared up front, so the header (and each tensor's
/// place) is fixed before any data arrives: the file is the same bytes `SafetensorsFile.write`
/// produces, whatever order the data is appended in. Each `append` continues where the previous
/// one for that tensor stopped. `finish()` checks every tensor is complete and renames the file
/// into place; dropping the writer before that deletes the temporary file.
public final class SafetensorsWriter {
    public let path: String
    private let out: AtomicOutputFile
    private let dataStart: Int
    private var slots: [String: (info: SafetensorsTensorInfo, written: Int)] = [:]
    /// Tensor names in file order.
    public let order: [String]
    private var finished = false

    public init(path: String, tensors: [(name: String, dtype: SafetensorsDType, shape: [Int])],
                metadata: [String: String] = [:]) throws {
        self.path = path
        var names = Set<String>()
        for t in tensors where !names.insert(t.name).inserted {
            throw FormatError(path: path, message: "tensor '\(t.name)' is declared twice")
        }
        let layout = try SafetensorsHeader.layout(tensors.map { ($0.name, $0.dtype, $0.shape) }, metadata: metadata, path: path)
        for info in layout.tensors { slots[info.name] = (info, 0) }
        order = layout.tensors.map(\.name)
        dataStart = layout.prefix.count
        out = try AtomicOutputFile(path: path)
        try out.write(layout.prefix)
        try out.truncate(to: layout.prefix.count + layout.dataSize)
    }

    /// Appends the next raw little-endian bytes of tensor `name`.
    public func append(_ name: String, bytes: UnsafeRawBufferPointer) throws {
        precondition(!finished, "SafetensorsWriter used after finish()")
        guard let slot = slots[name] else {
            throw FormatError(path: path, message: "tensor '\(name)' was not declared when the writer was created")
        }
        let size = slot.info.end - slot.info.begin
        guard slot.written + bytes.count <= size else {
            throw FormatError(path: path, message:
                "tensor '\(name)': \(slot.written + bytes.count) bytes appended, but shape \(slot.info.shape) of \(slot.info.dtype.rawValue) holds \(size)")
        }
        try out.write(bytes, at: dataStart + slot.info.begin + slot.written)
        slots[name]?.written += bytes.count
    }

    public func append(_ name: String, bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try append(name, bytes: $0) }
    }

    /// Appends Float values to an F32, F16 or BF16 tensor (rounding to nearest even).
    public func append(_ name: String, _ values: [Float]) throws {
        switch slots[name]?.info.dtype {
        case .f32?: try values.withUnsafeBytes { try append(name, bytes: $0) }
        case .f16?: try append(name, bytes: Half.littleEndianBytes(values))
        case .bf16?: try append(name, bytes: BFloat16.littleEndianBytes(values))
        case let other?: throw FormatError(path: path, message: "tensor '\(name)' is \(other.rawValue): cannot append Float values")
        case nil: throw FormatError(path: path, message: "tensor '\(name)' was not declared when the writer was created")
        }
    }

    /// Checks that every tensor received all its bytes and renames the file into place.
    public func finish() throws {
        precondition(!finished, "SafetensorsWriter.finish() called twice")
        for name in order {
            guard let slot = slots[name] else { continue }
            let size = slot.info.end - slot.info.begin
            guard slot.written == size else {
                throw FormatError(path: path, message: "incomplete: tensor '\(name)' has \(slot.written) of its \(size) bytes")
            }
        }
        try out.commit()
        finished = true
    }
}
