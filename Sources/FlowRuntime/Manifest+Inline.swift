import Foundation
import XXHash

// Small files inside their manifest.
//
// A file of at most `inlineThreshold` bytes (an output file, a file of an output directory, or
// the step's log) is kept in its manifest, base64 in one field, instead of as an object: on ext4
// creating the object's file (an inode, a directory entry, a rename) was a large part of flow's
// own time per step. Its digest and size are recorded exactly as for an object, so keys,
// staleness and `explain` do not know the difference. Identical small files are repeated in
// every manifest that has them (no deduplication below the threshold).
//
// A manifest with inline files says `flow-manifest v2`; one without says `v1`, as before. An
// older flow reads only v1: a v2 manifest is no result to it (the step runs and its v1 manifest
// replaces the v2 one), rather than a v1-looking manifest that lacks outputs, which an older flow
// would judge corrupt and remove.
//
// Manifests are untrusted input: inline bytes are decoded only when the declared size is within
// `inlineReadLimit` and the field has exactly the length that size needs, and they must hash to
// the recorded digest (`structuralProblem` checks all of this, and every restore hashes again).
extension Manifest {
    /// Files of at most this many bytes are kept inside the manifest (see bench/RESULTS.md, sixth
    /// pass): with its log, a manifest of one such output still fits one 4 KiB block.
    public static let inlineThreshold: Int64 = 2048
    /// The most bytes one manifest keeps inline; past it, small files are objects again (a
    /// directory of 100,000 small files does not become one huge manifest).
    public static let inlineBudget: Int64 = 16 << 10
    /// The largest inline file a reader accepts, whatever the writer's threshold: it bounds what a
    /// doctored size can make flow compute or decode.
    static let inlineReadLimit: Int64 = 64 << 10

    /// The base64 text of `bytes`, as a manifest keeps it.
    static func inlineText(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }

    /// The bytes of an inline file, checked against its recorded size (nil for a log, which
    /// records none) and digest.
    public static func inlineBytes(_ text: String, size: Int64?, digest: Digest128) throws(InlineBytesError) -> [UInt8] {
        let length = Int64(text.utf8.count)
        if let size {
            guard size >= 0, size <= inlineReadLimit else { throw InlineBytesError("have an impossible size \(size)") }
            guard length == 4 * ((size + 2) / 3) else { throw InlineBytesError("are \(length) characters long where size \(size) needs \(4 * ((size + 2) / 3))") }
        } else if length > 4 * ((inlineReadLimit + 2) / 3) {
            throw InlineBytesError("are longer than any inline file may be (\(length) characters)")
        }
        guard let data = Data(base64Encoded: text) else { throw InlineBytesError("are not valid base64") }
        let bytes = [UInt8](data)
        if let size, Int64(bytes.count) != size { throw InlineBytesError("decode to \(bytes.count) bytes where the size is \(size)") }
        guard XXH128.hash(bytes) == digest else { throw InlineBytesError("do not match their digest \(digest.hex)") }
        return bytes
    }

    /// Why the inline bytes of the manifest (its outputs', its entries' and its log's) cannot be
    /// used; nil when they all decode and match their digests. Digests that are not digests are
    /// left to `structuralProblem`.
    var inlineProblem: String? {
        func check(_ text: String?, size: Int64?, digest hex: String, what: @autoclosure () -> String) -> String? {
            guard let text, let digest = Digest128(hex: hex) else { return nil }
            do { _ = try Manifest.inlineBytes(text, size: size, digest: digest) } catch { return "the inline bytes of \(what()) \(error.reason)" }
            return nil
        }
        if let log, let p = check(logInline, size: nil, digest: log, what: "its log") { return p }
        for out in outputs {
            if let p = check(out.inline, size: out.size, digest: out.digest, what: "'\(out.path)'") { return p }
            for e in out.entries ?? [] {
                if let p = check(e.inline, size: e.size, digest: e.digest, what: "'\(out.path)/\(e.path)'") { return p }
            }
        }
        return nil
    }

    /// Whether any file of the manifest is kept inline (the manifest is then written as v2).
    var hasInlineBytes: Bool {
        logInline != nil || outputs.contains { $0.inline != nil || ($0.entries ?? []).contains { $0.inline != nil } }
    }

    /// How many files (outputs, entries, the log) the manifest keeps inline.
    public var inlineFileCount: Int {
        (logInline == nil ? 0 : 1) + outputs.reduce(0) { n, o in
            n + (o.inline == nil ? 0 : 1) + (o.entries ?? []).reduce(0) { $0 + ($1.inline == nil ? 0 : 1) }
        }
    }

    /// The bytes of the log, from the manifest or else from `store`; nil when no log was kept.
    public func logBytes(from store: ObjectStore) throws -> [UInt8]? {
        guard let log, let digest = Digest128(hex: log) else { return nil }
        if let logInline { return try Manifest.inlineBytes(logInline, size: nil, digest: digest) }
        return try store.contents(digest)
    }

    /// The bytes of output file `out` of this manifest, from the manifest or else from `store`.
    public static func bytes(of out: Output, from store: ObjectStore) throws -> [UInt8] {
        guard let digest = Digest128(hex: out.digest) else { throw InlineBytesError("name an invalid digest '\(out.digest)'") }
        if let inline = out.inline { return try inlineBytes(inline, size: out.size, digest: digest) }
        return try store.contents(digest)
    }
}

/// Inline bytes in a manifest that cannot be used: the manifest is corrupt or doctored.
public struct InlineBytesError: Error, CustomStringConvertible {
    /// Completes "the inline bytes of 'out/x' ...".
    public var reason: String
    init(_ reason: String) { self.reason = reason }
    public var description: String { "inline bytes \(reason)" }
}

extension ObjectStore {
    /// Puts a file that a manifest names at `dest`: its bytes from the manifest when the manifest
    /// keeps them (checked against `digest` first), else object `digest`, as `restore` does.
    /// Inline bytes are always written as a new file, whatever `link` asks: there is no object to
    /// link to.
    public func restore(_ digest: Digest128, inline: String?, size: Int64, to dest: String, executable: Bool, link: LinkMode,
                        scratch: String? = nil) throws {
        guard let inline else { return try restore(digest, to: dest, executable: executable, link: link, scratch: scratch) }
        let bytes = try Manifest.inlineBytes(inline, size: size, digest: digest)
        try place(at: dest, executable: executable, scratch: scratch) { tmp, mode in
            try FileIO.writeAll(tmp, bytes, sync: false, mode: mode)
            chmod(tmp, mode)
        }
    }
}
