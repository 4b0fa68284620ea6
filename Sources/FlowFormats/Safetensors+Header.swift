// The safetensors layout (huggingface/safetensors, safetensors/src/tensor.rs):
//
//   N (u64 LE) | N bytes of UTF-8 JSON | data buffer
//
// The JSON maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative
// to the data buffer) plus an optional "__metadata__" map of strings. The reader enforces the
// reference rules: N ≤ 100,000,000; the JSON is UTF-8 and an object; no duplicate keys; sorted
// by offsets, tensors tile the buffer from 0 without gaps or overlaps; end − begin equals the
// shape's size; and the buffer ends exactly at the end of the file.
// The writer orders tensors by dtype (reference enum order, descending), then name (bytewise),
// writes compact JSON with "__metadata__" first (its keys sorted), and pads the JSON with spaces
// to a multiple of 8 bytes so that every tensor starts 8-byte aligned.

struct SafetensorsHeader {
    var tensors: [SafetensorsTensorInfo]  // in offset order
    var metadata: [String: String]
    /// File offset of the data buffer: 8 + N.
    var dataStart: Int

    static let maxHeaderLength = 100_000_000

    static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws -> SafetensorsHeader {
        func fail(_ message: String) -> FormatError { FormatError(path: path, message: message) }
        guard bytes.count >= 8 else {
            throw fail("not a safetensors file: \(bytes.count) bytes, shorter than the 8-byte header length")
        }
        let n64 = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[$1]) << (8 * UInt64($1)) }
        guard n64 <= UInt64(maxHeaderLength) else {
            throw fail("header length \(n64) (bytes 0-7) exceeds the limit of \(maxHeaderLength): not a safetensors file?")
        }
        let n = Int(n64)
        guard 8 + n <= bytes.count else {
            throw fail("truncated: the header declares \(n) bytes of JSON but the file has only \(bytes.count - 8) after the length")
        }
        let json = UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + n)])
        if let bad = firstInvalidUTF8(json) {
            throw fail("the JSON header is not valid UTF-8 (at byte \(8 + bad))")
        }
        let root: JSONValue
        do {
            root = try JSONParser.parse(json)
        } catch let e as JSONParser.Failure {
            throw fail("malformed JSON header at byte \(8 + e.offset): \(e.message)")
        }
        guard case .object(let members) = root else { throw fail("the JSON header is not an object") }

        var seen = Set<String>()
        var metadata: [String: String] = [:]
        var tensors: [SafetensorsTensorInfo] = []
        for (key, value) in members {
            guard seen.insert(key).inserted else { throw fail("duplicate key \"\(key)\" in the JSON header") }
            if key == "__metadata__" {
                switch value {
                case .null: break
                case .object(let entries):
                    for (k, v) in entries {
                        guard case .string(let s) = v else { throw fail("__metadata__ value of \"\(k)\" is not a string") }
                        guard metadata.updateValue(s, forKey: k) == nil else { throw fail("duplicate __metadata__ key \"\(k)\"") }
                    }
                default: throw fail("__metadata__ is not an object of strings")
                }
                continue
            }
            tensors.append(try tensorInfo(key, value, fail: fail))
        }
        tensors.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var position = 0
        for t in tensors {
            guard t.begin == position, t.end >= t.begin else {
                throw fail("tensor '\(t.name)': data_offsets [\(t.begin), \(t.end)] "
                    + (t.begin > position ? "leave a gap after byte \(position)" : t.end < t.begin ? "end before they begin" : "overlap the previous tensor, which ends at \(position)"))
            }
            // Non-zero dimensions too (see NPY's header): no row size of an empty tensor may overflow.
            guard let size = t.dtype.byteCount(shape: t.shape), t.dtype.byteCount(shape: t.shape.filter { $0 != 0 }) != nil else {
                throw fail("tensor '\(t.name)': shape \(t.shape) of \(t.dtype.rawValue) overflows or does not fill whole bytes")
            }
            guard size == t.end - t.begin else {
                throw fail("tensor '\(t.name)': shape \(t.shape) of \(t.dtype.rawValue) needs \(size) bytes but data_offsets [\(t.begin), \(t.end)] span \(t.end - t.begin)")
            }
            position = t.end
        }
        let dataStart = 8 + n
        guard bytes.count - dataStart == position else {
            throw fail(bytes.count - dataStart < position
                ? "truncated: the tensors need \(position) data bytes from offset \(dataStart), the file has \(bytes.count - dataStart)"
                : "\(bytes.count - dataStart - position) bytes after the last tensor (data should end at offset \(dataStart + position))")
        }
        return SafetensorsHeader(tensors: tensors, metadata: metadata, dataStart: dataStart)
    }

    private static func tensorInfo(_ name: String, _ value: JSONValue, fail: (String) -> FormatError) throws -> SafetensorsTensorInfo {
        guard case .object(let fields) = value else { throw fail("tensor '\(name)': entry is not an object") }
        var dtype: SafetensorsDType?, shape: [Int]?, offsets: [Int]?
        var seen = Set<String>()
        for (k, v) in fields {
            guard seen.insert(k).inserted else { throw fail("tensor '\(name)': duplicate key \"\(k)\"") }
            switch k {
            case "dtype":
                guard case .string(let s) = v else { throw fail("tensor '\(name)': dtype is not a string") }
                guard let d = SafetensorsDType(rawValue: s) else {
                    throw fail("tensor '\(name)': unknown dtype \"\(s)\"")
                }
                dtype = d
            case "shape":
                shape = try integers(v, fail: { fail("tensor '\(name)': shape must be an array of non-negative integers") })
            case "data_offsets":
                offsets = try integers(v, fail: { fail("tensor '\(name)': data_offsets must be two non-negative integers") })
            default:
                break  // the reference reader ignores unknown fields
            }
        }
        guard let dtype, let shape, let offsets else {
            throw fail("tensor '\(name)': needs dtype, shape and data_offsets")
        }
        guard offsets.count == 2 else { throw fail("tensor '\(name)': data_offsets must be two non-negative integers") }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
    }

    private static func integers(_ v: JSONValue, fail: () -> FormatError) throws -> [Int] {
        guard case .array(let items) = v else { throw fail() }
        return try items.map { item in
            guard let i = item.nonNegativeInt else { throw fail() }
            return i
        }
    }

    private static func firstInvalidUTF8(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var it = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        var consumed = 0
        // Track offsets by re-encoding lengths of decoded scalars.
        while true {
            switch decoder.decode(&it) {
            case .scalarValue(let s):
                consumed += UTF8.width(s)
                offset = consumed
            case .emptyInput:
                return nil
            case .error:
                return offset
            }
        }
    }

    // MARK: writing

    struct Layout {
        /// Length, JSON and padding: everything before the data buffer.
        var prefix: [UInt8]
        var tensors: [SafetensorsTensorInfo]
        var dataSize: Int
    }

    /// Orders tensors as the reference writer does and builds the header.
    static func layout(_ specs: [(String, SafetensorsDType, [Int])], metadata: [String: String], path: String) throws -> Layout {
        let ordered = specs.sorted { a, b in
            a.1.rank != b.1.rank ? a.1.rank > b.1.rank : Array(a.0.utf8).lexicographicallyPrecedes(Array(b.0.utf8))
        }
        var infos: [SafetensorsTensorInfo] = []
        var offset = 0
        for (name, dtype, shape) in ordered {
            guard name != "__metadata__" else { throw FormatError(path: path, message: "a tensor cannot be named __metadata__") }
            guard let size = dtype.byteCount(shape: shape) else {
                throw FormatError(path: path, message: "tensor '\(name)': shape \(shape) of \(dtype.rawValue) is invalid")
            }
            infos.append(SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, begin: offset, end: offset + size))
            offset += size
        }
        var json = "{"
        var parts: [String] = []
        if !metadata.isEmpty {
            let entries = metadata.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
            parts.append("\"__metadata__\":{" + entries.map { JSONWriter.quoted($0.key) + ":" + JSONWriter.quoted($0.value) }.joined(separator: ",") + "}")
        }
        for t in infos {
            let shape = t.shape.map(String.init).joined(separator: ",")
            parts.append(JSONWriter.quoted(t.name) + ":{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(t.begin),\(t.end)]}")
        }
        json += parts.joined(separator: ",") + "}"
        var header = Array(json.utf8)
        header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)
        guard header.count <= maxHeaderLength else {
            throw FormatError(path: path, message: "header of \(header.count) bytes exceeds the safetensors limit of \(maxHeaderLength)")
        }
        let prefix = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header
        return Layout(prefix: prefix, tensors: infos, dataSize: offset)
    }
}
