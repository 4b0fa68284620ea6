// flow op concat: per-shard .npy arrays (and their keys files) joined along the first axis.
import ArgumentParser
import Foundation
import FlowFormats

/// `flow op concat`: joins `.npy` parts along the first axis, in the order given, and their
/// keys files (one sample key per line, as `embed` writes them) in the same order.
///
/// It is the join after a per-shard fan-out: each shard is embedded by its own cached step,
/// and one cheap step concatenates the parts, so adding a shard embeds only that shard.
/// Parts are streamed through `NPYWriter`; memory stays at one part's mapping.
struct ConcatOp: FlowOp {
    static let configuration = CommandConfiguration(
        commandName: "concat",
        abstract: "Concatenate .npy arrays along the first axis (and their keys files, in the same order).",
        discussion: """
            The parts are listed as arguments, or as --pattern with a printf-style %d (for \
            example 'emb/pool/%06d.npy') and --count N, which reads parts 0 to N-1 and nothing \
            else: a part left over in the directory from an earlier, larger run is not read. \
            Every part must have the same dtype and the same shape after the first axis. \
            With --keys, each part's keys file (the part path with .npy replaced by .keys.txt, \
            as `flow op embed` writes it) must hold one line per row, and the lines are \
            concatenated into the --keys file. The output is byte for byte what \
            numpy.concatenate followed by numpy.save writes.
            """)
    static let version = 1

    @Argument(help: "The parts (.npy), in order.")
    var parts: [String] = []

    @Option(help: "Part path with one printf-style integer field, e.g. 'emb/pool/%06d.npy' (with --count).")
    var pattern: String?

    @Option(help: "Number of parts for --pattern: parts 0 to N-1.")
    var count: Int?

    @Option(help: "Output .npy.")
    var out: String

    @Option(help: "Also concatenate the parts' keys files (PART.keys.txt) into this file.")
    var keys: String?

    func validate() throws {
        switch (parts.isEmpty, pattern, count) {
        case (false, nil, nil): break
        case (true, .some, .some(let n)):
            guard n >= 1 else { throw ValidationError("--count must be at least 1 (got \(n))") }
        case (true, nil, nil): throw ValidationError("give the parts, or --pattern and --count")
        case (false, _, _): throw ValidationError("give the parts as arguments or as --pattern and --count, not both")
        case (true, .some, nil): throw ValidationError("--pattern needs --count")
        case (true, nil, .some): throw ValidationError("--count needs --pattern")
        }
    }

    func run() throws {
        let paths = try partPaths()
        let headers = try paths.map { path -> (dtype: NPYDType, shape: [Int]) in
            guard FileManager.default.fileExists(atPath: path) else {
                throw OpError("\(path): no such part; check the part list (or --pattern and --count)")
            }
            let h = try readHeader(path)
            guard !h.shape.isEmpty else { throw OpError("\(path): a 0-D array has no rows to concatenate") }
            return (h.dtype, h.shape)
        }
        let first = headers[0]
        for (path, h) in zip(paths, headers).dropFirst() {
            guard h.dtype == first.dtype else {
                throw OpError("\(path): dtype \(h.dtype.rawValue) differs from \(first.dtype.rawValue) of \(paths[0])")
            }
            guard Array(h.shape.dropFirst()) == Array(first.shape.dropFirst()) else {
                throw OpError("\(path): rows of shape \(Array(h.shape.dropFirst())) differ from \(Array(first.shape.dropFirst())) of \(paths[0])")
            }
        }
        var keyLines: [String] = []
        if keys != nil {
            for (path, h) in zip(paths, headers) { keyLines += try partKeys(path, rows: h.shape[0]) }
        }
        let rows = headers.reduce(0) { $0 + $1.shape[0] }
        let writer: NPYWriter
        do { writer = try NPYWriter(path: out, dtype: first.dtype, shape: [rows] + first.shape.dropFirst()) } catch {
            throw OpError("\(error)")
        }
        for path in paths {
            do {
                try NPY.withMappedData(path: path) { _, _, data in try writer.append(bytes: data) }
            } catch {
                throw OpError("\(path): cannot read the data: \(error)")
            }
        }
        do { try writer.finish() } catch { throw OpError("\(error)") }
        if let keys {
            let text = keyLines.map { $0 + "\n" }.joined()
            do { try text.write(toFile: keys, atomically: true, encoding: .utf8) } catch {
                throw OpError("\(keys): cannot write the keys: \(error.localizedDescription)")
            }
        }
        print("concat: \(paths.count) parts, \(rows) rows of \(first.dtype.rawValue) \(Array(first.shape.dropFirst())) -> \(out)"
              + (keys.map { " and \($0)" } ?? ""))
    }

    /// The part paths: the arguments, or the pattern filled with 0..<count.
    func partPaths() throws -> [String] {
        guard let pattern, let count else { return parts }
        guard let field = Self.integerField(in: pattern) else {
            throw ValidationError("--pattern '\(pattern)' needs exactly one integer field such as %d or %06d (and %% for a literal %)")
        }
        return (0..<count).map { i in
            pattern.replacingCharacters(in: field.range, with: field.format(i)).replacingOccurrences(of: "%%", with: "%")
        }
    }

    /// The single `%d` / `%0Nd` / `%Nd` field of a pattern, or nil if there is not exactly one.
    static func integerField(in pattern: String) -> (range: Range<String.Index>, format: (Int) -> String)? {
        var found: (Range<String.Index>, (Int) -> String)?
        var i = pattern.startIndex
        while i < pattern.endIndex {
            guard pattern[i] == "%" else { i = pattern.index(after: i); continue }
            var j = pattern.index(after: i)
            if j < pattern.endIndex, pattern[j] == "%" { i = pattern.index(after: j); continue }
            let widthStart = j
            while j < pattern.endIndex, pattern[j].isASCII, pattern[j].isNumber { j = pattern.index(after: j) }
            guard j < pattern.endIndex, pattern[j] == "d", found == nil else { return nil }
            let spec = String(pattern[widthStart..<j])
            let zero = spec.hasPrefix("0")
            let width = Int(spec) ?? 0
            found = (i..<pattern.index(after: j), { n in
                let digits = String(n)
                let pad = max(0, width - digits.count)
                return String(repeating: zero ? "0" : " ", count: pad) + digits
            })
            i = pattern.index(after: j)
        }
        return found
    }

    private func readHeader(_ path: String) throws -> (dtype: NPYDType, shape: [Int], dataOffset: Int) {
        do { return try NPY.readHeader(path: path) } catch { throw OpError("\(error)") }
    }

    /// A part's keys: PART.keys.txt, one line per row.
    private func partKeys(_ part: String, rows: Int) throws -> [String] {
        let path = (part.hasSuffix(".npy") ? String(part.dropLast(4)) : part) + ".keys.txt"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw OpError("\(path): cannot read the keys of \(part) (embed writes them beside its output); drop --keys to join the arrays only")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard lines.count == rows else {
            throw OpError("\(path): \(lines.count) keys for the \(rows) rows of \(part)")
        }
        return lines
    }
}
