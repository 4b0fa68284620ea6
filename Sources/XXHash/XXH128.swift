import CXXHash

/// A 128-bit XXH3 digest (`XXH128_hash_t`), printed as 32 lowercase hex digits, high half first,
/// the same text as `xxhsum -H2`.
public struct Digest128: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    init(_ h: XXH128_hash_t) {
        self.init(high: h.high64, low: h.low64)
    }

    /// Parses 32 hex digits; nil for anything else.
    public init?(hex: String) {
        self.init(hex: Substring(hex))
    }

    /// As `init?(hex: String)`, for a slice of a larger text (a manifest line).
    public init?(hex: Substring) {
        var text = hex
        guard let parsed = text.withUTF8({ Digest128(hexBytes: $0) }) else { return nil }
        self = parsed
    }

    /// The parse itself, on bytes: a generic `StringProtocol` walk was a tenth of `flow status`
    /// on 10,000 steps (manifests are full of digests), as it is not specialised across modules.
    init?(hexBytes: UnsafeBufferPointer<UInt8>) {
        guard hexBytes.count == 32 else { return nil }
        var high: UInt64 = 0, low: UInt64 = 0
        var n = 0
        for c in hexBytes {
            let v: UInt8
            switch c {
            case 48...57: v = c - 48
            case 97...102: v = c - 87
            case 65...70: v = c - 55
            default: return nil
            }
            if n < 16 { high = high << 4 | UInt64(v) } else if n < 32 { low = low << 4 | UInt64(v) } else { return nil }
            n += 1
        }
        guard n == 32 else { return nil }
        self.init(high: high, low: low)
    }

    public var hex: String {
        String(unsafeUninitializedCapacity: 32) { buffer in
            for i in 0..<16 {
                buffer[i] = Digest128.digit((high >> UInt64(60 - 4 * i)) & 0xf)
                buffer[16 + i] = Digest128.digit((low >> UInt64(60 - 4 * i)) & 0xf)
            }
            return 32
        }
    }

    /// The lowercase hex digit of `v` (0-15).
    static func digit(_ v: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: v < 10 ? 48 + v : 87 + v) }

    public var description: String { hex }

    /// The first 12 hex digits: enough to tell objects apart in messages.
    public var short: String { String(hex.prefix(12)) }

    public static func < (a: Self, b: Self) -> Bool {
        (a.high, a.low) < (b.high, b.low)
    }

}

/// Streaming XXH3-128 (`XXH3_state_t`), through the runtime-dispatched entry points
/// (`XXH3_128bits_update_dispatch`): Debian's plain streaming call is 5x slower.
public final class XXH128Hasher {
    private let state: OpaquePointer

    public init() {
        guard let s = XXH3_createState() else { fatalError("XXH3_createState: out of memory") }
        state = s
        XXH3_128bits_reset(state)
    }

    deinit { XXH3_freeState(state) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        _ = XXH3_128bits_update_dispatch(state, base, bytes.count)
    }

    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public func update(_ string: String) {
        var s = string
        s.withUTF8 { update(UnsafeRawBufferPointer($0)) }
    }

    /// The digest of everything so far; the hasher can go on being updated.
    public func finalize() -> Digest128 {
        Digest128(XXH3_128bits_digest(state))
    }
}

public enum XXH128 {
    /// One-shot XXH3-128 (`XXH3_128bits_dispatch`).
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> Digest128 {
        Digest128(XXH3_128bits_dispatch(bytes.baseAddress, bytes.count))
    }

    public static func hash(_ bytes: [UInt8]) -> Digest128 {
        bytes.withUnsafeBytes { hash($0) }
    }

    public static func hash(_ string: String) -> Digest128 {
        var s = string
        return s.withUTF8 { hash(UnsafeRawBufferPointer($0)) }
    }
}
