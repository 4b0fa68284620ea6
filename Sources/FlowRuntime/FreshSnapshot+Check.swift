import Foundation
import FlowCore
import Glibc

extension FreshSnapshot {
    /// A snapshot that was found to hold: the step count, and the steps on demand.
    public struct Holding {
        public let stepCount: Int
        let text: [UInt8]
        let stepsOffset: Int

        /// The steps' names, last durations and output sizes, for `flow status` to print.
        public func steps() -> [StepInfo] {
            let rest = String(decoding: text[stepsOffset...], as: UTF8.self)
            return TextRecord.records(rest).compactMap { r in
                r.count == 6 && r[0] == "S" ? StepInfo(name: r[1], lastDuration: Double(r[2]), outputSize: Int64(r[3])) : nil
            }
        }

        /// The `external` data roots of the workflow, after its steps.
        public func externals() -> [ExternalRoot] {
            let rest = String(decoding: text[stepsOffset...], as: UTF8.self)
            return TextRecord.records(rest).compactMap { r in r.count == 3 && r[0] == "E" ? ExternalRoot(name: r[1], path: r[2]) : nil }
        }
    }

    /// Reads the workspace's snapshot and checks it in one pass over its bytes, stopping at the
    /// first path whose signature changed: the no-op path of `flow status` and `flow run` on a
    /// large DAG is mostly this, so it allocates nothing per path. `context` computes the
    /// expected context from the environment variable names the snapshot lists.
    public static func check(stateDirectory: String, root: String, context: ([String]) -> String) -> Holding? {
        guard let text = try? FileIO.readAll(path(stateDirectory: stateDirectory), sizeHint: 1 << 20) else { return nil }
        return text.withUnsafeBufferPointer { bytes -> Holding? in
            var scanner = LineScanner(bytes: bytes)
            guard let dirty = readHead(&scanner, context: context), dirty == 0 else { return nil }
            var disk = DiskProbe(root: root)
            while let kind = scanner.peek() {
                if kind == UInt8(ascii: "s") {
                    guard let r = scanner.fields(), r.count == 2, r[0] == "steps", let n = Int(r[1]) else { return nil }
                    return Holding(stepCount: n, text: Array(bytes), stepsOffset: scanner.offset)
                }
                let line = scanner.line()
                guard let seen = Observed(line), disk.matches(seen) == true else { return nil }
            }
            return nil
        }
    }

    /// The header and context lines: the number of steps marked "to evaluate", or nil when the
    /// snapshot is of another version or another context.
    static func readHead(_ scanner: inout LineScanner, context: ([String]) -> String) -> Int? {
        guard scanner.line().elementsEqual(header.utf8) else { return nil }
        guard let contextLine = scanner.fields(), contextLine.count == 2, contextLine[0] == "context",
              let envLine = scanner.fields(), envLine.first == "env",
              contextLine[1] == context(Array(envLine.dropFirst())),
              let dirtyLine = scanner.fields(), dirtyLine.count == 2, dirtyLine[0] == "dirty" else { return nil }
        return Int(dirtyLine[1])
    }
}

/// One `P` or `M` line of a snapshot, as byte slices.
struct Observed {
    let kind: UInt8
    let fields: Fields

    init?(_ line: Slice<UnsafeBufferPointer<UInt8>>) {
        guard let k = line.first, k == UInt8(ascii: "P") || k == UInt8(ascii: "M") else { return nil }
        fields = Fields(line)
        kind = k
        guard fields.count == (k == UInt8(ascii: "P") ? 9 : 3) else { return nil }
    }

    var path: Slice<UnsafeBufferPointer<UInt8>> { fields[1] }
    var observers: Slice<UnsafeBufferPointer<UInt8>> { fields[fields.count - 1] }

    /// The signature written (nil for `M`: the path did not exist); nil in `.some` when malformed.
    var stat: FileStat?? {
        guard kind == UInt8(ascii: "P") else { return .some(nil) }
        guard let dev = fields.uint(2), let ino = fields.uint(3), let size = fields.uint(4),
              let m = fields.int(5), let c = fields.int(6) else { return nil }
        let directory = fields[7].first == UInt8(ascii: "d")
        return .some(FileStat(device: dev, inode: ino, size: Int64(size), mtimeNs: m, ctimeNs: c,
                              mode: directory ? UInt32(S_IFDIR) : UInt32(S_IFREG)))
    }
}

/// Stats snapshot paths with one reused buffer: root + "/" + relative path + NUL (or an absolute
/// path: external data).
struct DiskProbe {
    let prefix: [CChar]
    var path: [CChar]
    var st = Glibc.stat()

    init(root: String) {
        prefix = [CChar](root.utf8CString.dropLast()) + [CChar(UInt8(ascii: "/"))]
        path = prefix
    }

    /// The path's signature now (nil: it does not exist).
    mutating func signature(_ rel: Slice<UnsafeBufferPointer<UInt8>>) -> FileStat? {
        path.removeAll(keepingCapacity: true)
        if rel.contains(UInt8(ascii: "%")) {
            // Escaped names are rare: take the slow, exact way.
            let name = TextRecord.unescape(UnsafeBufferPointer(rebasing: rel))
            if !name.hasPrefix("/") { path += prefix }
            path += name.utf8CString.dropLast()
        } else {
            if rel.first != UInt8(ascii: "/") { path += prefix }
            if rel.isEmpty { path.removeLast() }
            for c in rel { path.append(CChar(bitPattern: c)) }
        }
        path.append(0)
        return stat(path, &st) == 0 ? FileStat(st) : nil
    }

    /// True when the path is as the line says, false when it changed, nil when the line is malformed.
    mutating func matches(_ seen: Observed) -> Bool? {
        guard let then = seen.stat else { return nil }
        return FreshSnapshot.same(then, signature(seen.path))
    }
}

extension FreshSnapshot {
    /// The snapshot's notion of unchanged: both missing, or the same signature and kind.
    static func same(_ a: FileStat?, _ b: FileStat?) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        return a.sameSignature(b) && a.isDirectory == b.isDirectory
    }
}

/// Lines of a byte buffer.
struct LineScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var offset = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    func peek() -> UInt8? { offset < bytes.count ? bytes[offset] : nil }

    /// The next line, without its newline.
    mutating func line() -> Slice<UnsafeBufferPointer<UInt8>> {
        let start = offset
        while offset < bytes.count && bytes[offset] != UInt8(ascii: "\n") { offset += 1 }
        let line = bytes[start..<offset]
        if offset < bytes.count { offset += 1 }
        return line
    }

    /// The next line's tab-separated fields, unescaped.
    mutating func fields() -> [String]? {
        let l = line()
        return l.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false).map {
            TextRecord.unescape(UnsafeBufferPointer(rebasing: $0))
        }
    }
}

/// The tab-separated fields of one line, as byte slices.
struct Fields {
    let parts: [Slice<UnsafeBufferPointer<UInt8>>]

    init(_ line: Slice<UnsafeBufferPointer<UInt8>>) {
        parts = line.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false)
    }

    var count: Int { parts.count }
    subscript(i: Int) -> Slice<UnsafeBufferPointer<UInt8>> { parts[i] }

    func uint(_ i: Int) -> UInt64? {
        let p = parts[i]
        guard !p.isEmpty else { return nil }
        var v: UInt64 = 0
        for c in p {
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            v = a
        }
        return v
    }

    /// A non-negative integer field as Int64 (times before 1970 make the snapshot invalid).
    func int(_ i: Int) -> Int64? {
        uint(i).flatMap { $0 <= UInt64(Int64.max) ? Int64($0) : nil }
    }
}
