// The .npy header (NumPy's `numpy/lib/format.py`):
//
//   \x93NUMPY | major minor | HEADER_LEN (u16 LE in v1.0, u32 LE in v2.0 and v3.0) | header | data
//
// The header is a Python dict literal, `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`,
// latin-1 in v1/v2 and UTF-8 in v3. NumPy writes the keys sorted, appends 21 − len(repr(shape[0]))
// spaces of growth room (so that the first axis can be rewritten in place as an array grows), then
// pads with spaces and a final '\n' until the data starts at a multiple of 64. The writer here
// reproduces that byte for byte; the reader accepts any key order, either quote style, extra
// whitespace and trailing commas, and refuses object, structured, big-endian and Fortran-order arrays.

/// A parsed `.npy` header.
struct NPYHeader {
    var dtype: NPYDType
    var shape: [Int]
    /// File offset of the first data byte.
    var dataOffset: Int
    /// Data size in bytes (count × item size), checked for overflow.
    var dataSize: Int
}

extension NPY {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY
    /// Largest header accepted, in bytes; NumPy's own default limit is 10,000.
    static let maxHeaderLength = 1 << 20

    /// `(2, 3)`, `(3,)`, `()`: Python's repr of the shape tuple.
    static func shapeText(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    /// The product of `shape`, or nil for a negative dimension or overflow.
    static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            if o { return nil }
            n = p
        }
        return n
    }

    static func byteCount(shape: [Int], itemSize: Int) -> Int? {
        guard let n = elementCount(shape) else { return nil }
        let (p, o) = n.multipliedReportingOverflow(by: itemSize)
        return o ? nil : p
    }

    /// The header bytes (magic to the final '\n') NumPy's `np.save` writes for this array.
    static func headerBytes(dtype: NPYDType, shape: [Int]) -> [UInt8] {
        var dict = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(shapeText(shape)), }"
        if let first = shape.first { dict += String(repeating: " ", count: max(0, 21 - String(first).count)) }
        let body = Array(dict.utf8)
        let total1 = 10 + body.count + 1
        let pad1 = 64 - total1 % 64
        var out = magic
        if body.count + 1 + pad1 <= 0xFFFF {
            let length = body.count + 1 + pad1
            out += [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)]
            out += body + [UInt8](repeating: 0x20, count: pad1) + [0x0A]
        } else {
            let pad2 = 64 - (12 + body.count + 1) % 64
            let length = body.count + 1 + pad2
            out += [2, 0] + withUnsafeBytes(of: UInt32(length).littleEndian) { Array($0) }
            out += body + [UInt8](repeating: 0x20, count: pad2) + [0x0A]
        }
        return out
    }

    /// Parses and validates the header at the start of `bytes` (the whole file, `fileSize` long).
    /// Checks that the data that follows has exactly the size the header declares.
    static func parseHeader(_ bytes: UnsafeRawBufferPointer, path: String) throws -> NPYHeader {
        func fail(_ message: String) -> FormatError { FormatError(path: path, message: message) }
        guard bytes.count >= 10 else {
            throw fail("not a .npy file: \(bytes.count) bytes, shorter than the 10-byte preamble")
        }
        guard bytes.prefix(6).elementsEqual(magic) else {
            throw fail("not a .npy file: the first 6 bytes are not \\x93NUMPY")
        }
        let major = bytes[6], minor = bytes[7]
        let lengthStart: Int, headerLength: Int
        switch (major, minor) {
        case (1, 0):
            lengthStart = 10
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        case (2, 0), (3, 0):
            guard bytes.count >= 12 else { throw fail("truncated: the v\(major).0 preamble needs 12 bytes") }
            lengthStart = 12
            headerLength = (8..<12).reduce(0) { $0 | Int(bytes[$1]) << (8 * ($1 - 8)) }
        default:
            throw fail("unsupported .npy format version \(major).\(minor) (flow reads 1.0, 2.0 and 3.0)")
        }
        guard headerLength <= maxHeaderLength else {
            throw fail("header length \(headerLength) at offset 8 exceeds the \(maxHeaderLength)-byte limit")
        }
        let dataOffset = lengthStart + headerLength
        guard dataOffset <= bytes.count else {
            throw fail("truncated: the header declares \(headerLength) bytes but the file has \(bytes.count)")
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[lengthStart..<dataOffset])
        // v1/v2 are latin-1, where every byte is a character; v3 is UTF-8.
        let text = major == 3
            ? String(decoding: headerBytes, as: UTF8.self)
            : String(headerBytes.map { Character(Unicode.Scalar($0)) })
        var parser = PythonLiteralParser(text: text)
        let dict: [(String, PythonLiteral)]
        do {
            dict = try parser.parseDict()
        } catch let e as PythonLiteralParser.Failure {
            throw fail("malformed header at offset \(lengthStart + e.offset): \(e.message)")
        }
        var descr: PythonLiteral?, fortran: PythonLiteral?, shapeValue: PythonLiteral?
        for (key, value) in dict {
            switch key {
            case "descr" where descr == nil: descr = value
            case "fortran_order" where fortran == nil: fortran = value
            case "shape" where shapeValue == nil: shapeValue = value
            default: throw fail("header has an unexpected or repeated key '\(key)' (expected descr, fortran_order, shape)")
            }
        }
        guard let descr, let fortran, let shapeValue else {
            throw fail("header lacks one of the keys descr, fortran_order, shape")
        }
        let dtype = try dtypeFromDescr(descr, fail: fail)
        switch fortran {
        case .bool(false): break
        case .bool(true):
            throw fail("Fortran-order arrays are not supported: save a C-order copy (np.ascontiguousarray)")
        default: throw fail("fortran_order must be True or False")
        }
        guard case .tuple(let dims) = shapeValue else { throw fail("shape must be a tuple of integers") }
        var shape: [Int] = []
        for d in dims {
            guard case .int(let v) = d, v >= 0 else { throw fail("shape must be a tuple of non-negative integers") }
            shape.append(v)
        }
        // The non-zero dimensions too: an empty array of shape (0, 2**63-1) has no bytes, but the
        // size of one of its rows would overflow whatever code computes it.
        guard let dataSize = byteCount(shape: shape, itemSize: dtype.itemSize),
              byteCount(shape: shape.filter { $0 != 0 }, itemSize: dtype.itemSize) != nil else {
            throw fail("shape \(shapeText(shape)) is too large (its byte size overflows)")
        }
        let available = bytes.count - dataOffset
        if available < dataSize {
            throw fail("truncated: shape \(shapeText(shape)) of \(dtype.rawValue) needs \(dataSize) data bytes "
                + "from offset \(dataOffset), the file has \(available)")
        }
        if available > dataSize {
            throw fail("\(available - dataSize) unexpected bytes after the data (which ends at offset \(dataOffset + dataSize))")
        }
        return NPYHeader(dtype: dtype, shape: shape, dataOffset: dataOffset, dataSize: dataSize)
    }

    private static func dtypeFromDescr(_ value: PythonLiteral, fail: (String) -> FormatError) throws -> NPYDType {
        guard case .string(let descr) = value else {
            throw fail("structured arrays (a list or dict descr) are not supported")
        }
        if let t = NPYDType(rawValue: descr) { return t }
        // One-byte types have no byte order; NumPy writes '|' but '<', '>' and '=' mean the same.
        if descr.count == 3, "<>=".contains(descr.first!), let t = NPYDType(rawValue: "|" + descr.dropFirst()) {
            return t
        }
        if descr.hasPrefix("|O") || descr.hasPrefix("O") {
            throw fail("object arrays ('\(descr)') hold pickled Python objects and are not supported")
        }
        if descr.hasPrefix(">") {
            throw fail("big-endian dtype '\(descr)' is not supported: save arr.astype(arr.dtype.newbyteorder('<'))")
        }
        let known = NPYDType.allCases.map(\.rawValue).joined(separator: ", ")
        throw fail("dtype '\(descr)' is not supported (flow reads \(known)): convert with arr.astype(...)")
    }
}
