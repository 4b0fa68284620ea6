import CLZ4

/// An error from liblz4's frame API: the `LZ4F_errorCode_t` and `LZ4F_getErrorName`'s text.
public struct LZ4Error: Error, CustomStringConvertible {
    public var code: Int
    public var message: String
    public var description: String { "lz4: \(message)" }
}

@discardableResult
private func check(_ rc: Int) throws -> Int {
    if LZ4F_isError(rc) != 0 {
        throw LZ4Error(code: rc, message: String(cString: LZ4F_getErrorName(rc)))
    }
    return rc
}

/// LZ4 frame format (`lz4frame.h`), the format of the `lz4` CLI and of libarchive's lz4 filter.
public enum LZ4Frame {
    /// The 4 bytes every frame starts with.
    public static let magic: [UInt8] = [0x04, 0x22, 0x4D, 0x18]

    /// Compresses a whole buffer into one frame with content size and checksum (`LZ4F_compressFrame`).
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32 = 0) throws -> [UInt8] {
        var prefs = LZ4F_preferences_t()
        prefs.frameInfo.contentSize = UInt64(input.count)
        prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled
        prefs.frameInfo.blockSizeID = LZ4F_max4MB
        prefs.compressionLevel = level
        let bound = LZ4F_compressFrameBound(input.count, &prefs)
        var out = [UInt8](repeating: 0, count: bound)
        let n = try out.withUnsafeMutableBytes { dst in
            try check(LZ4F_compressFrame(dst.baseAddress, bound, input.baseAddress, input.count, &prefs))
        }
        out.removeSubrange(n...)
        return out
    }

    public static func compress(_ input: [UInt8], level: Int32 = 0) throws -> [UInt8] {
        try input.withUnsafeBytes { try compress($0, level: level) }
    }

    /// Decompresses one or more concatenated frames.
    public static func decompress(_ input: UnsafeRawBufferPointer) throws -> [UInt8] {
        let context = try DecompressionContext()
        var out: [UInt8] = []
        try context.decompress(input) { out.append(contentsOf: $0) }
        return out
    }

    public static func decompress(_ input: [UInt8]) throws -> [UInt8] {
        try input.withUnsafeBytes { try decompress($0) }
    }
}

/// Owns an `LZ4F_dctx`; streaming decompression in 64 KiB pieces.
public final class DecompressionContext {
    private var dctx: OpaquePointer?

    public init() throws {
        var ctx: OpaquePointer?
        try check(LZ4F_createDecompressionContext(&ctx, UInt32(LZ4F_VERSION)))
        dctx = ctx
    }

    deinit { LZ4F_freeDecompressionContext(dctx) }

    /// Feeds `input` and hands each decompressed piece to `sink`. Throws on a corrupt frame
    /// or, at the end, on a truncated one.
    public func decompress(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var offset = 0
        var hint = 1
        while offset < input.count {
            var srcSize = input.count - offset
            var dstSize = buffer.count
            // Never empty here, so its base address is never nil.
            let rest = UnsafeRawBufferPointer(rebasing: input[offset...])
            hint = try buffer.withUnsafeMutableBytes { dst in
                try check(LZ4F_decompress(dctx, dst.baseAddress, &dstSize, rest.baseAddress, &srcSize, nil))
            }
            offset += srcSize
            if dstSize > 0 { try buffer.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<dstSize])) } }
            if srcSize == 0 && dstSize == 0 { break }
        }
        // Drain output still buffered inside the context.
        while hint != 0 {
            var srcSize = 0
            var dstSize = buffer.count
            hint = try buffer.withUnsafeMutableBytes { dst in
                try check(LZ4F_decompress(dctx, dst.baseAddress, &dstSize, nil, &srcSize, nil))
            }
            if dstSize > 0 {
                try buffer.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<dstSize])) }
            } else if hint != 0 {
                throw LZ4Error(code: -1, message: "truncated frame (\(hint) more bytes expected)")
            }
        }
    }
}
