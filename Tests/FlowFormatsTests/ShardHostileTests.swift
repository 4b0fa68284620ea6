import Foundation
import Testing
import FlowFormats
import FlowTestSupport

/// Builds tar archives byte by byte, for entries no well-behaved writer produces.
struct TarBuilder {
    var bytes: [UInt8] = []

    /// Appends a ustar header and its padded data. `type` is the typeflag ('0' file, '1' hard
    /// link, '2' symlink, '3' char device, '4' block device, '5' directory, '6' fifo).
    mutating func add(_ name: String, _ data: [UInt8] = [], type: Character = "0", link: String = "",
                      corruptChecksum: Bool = false, claimedSize: Int? = nil) {
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ s: String, _ at: Int) { for (i, b) in s.utf8.enumerated() { h[at + i] = b } }
        func octal(_ v: Int, _ at: Int, _ width: Int) {
            let s = String(v, radix: 8)
            put(String(repeating: "0", count: width - 1 - s.count) + s, at)
        }
        put(name, 0)
        octal(0o644, 100, 8); octal(0, 108, 8); octal(0, 116, 8)
        octal(claimedSize ?? data.count, 124, 12); octal(946_684_800, 136, 12)
        h[156] = type.asciiValue ?? 48
        put(link, 157)
        put("ustar", 257); put("00", 263)
        for i in 148..<156 { h[i] = 32 }
        var sum = h.reduce(0) { $0 + Int($1) }
        if corruptChecksum { sum += 1 }
        octal(sum, 148, 7)
        bytes += h + data + [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
    }

    mutating func end() { bytes += [UInt8](repeating: 0, count: 1024) }

    func write(to path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }
}

@Suite struct ShardHostileTests {
    let dir = TemporaryDirectory("hostile")

    /// Writes `tar` as bad.tar, reads it all and returns the error text (or nil).
    func readError(_ tar: TarBuilder) throws -> String? {
        let path = dir.path + "/bad.tar"
        try tar.write(to: path)
        do {
            let reader = try ShardReader(path: path)
            while try reader.next() != nil {}
            return nil
        } catch let error as FormatError {
            #expect(error.path == path)
            return error.message
        }
    }

    static let cases: [(name: String, type: Character, link: String, expected: String)] = [
        ("/etc/evil.jpg", "0", "", "entry '/etc/evil.jpg' at byte 1024: absolute path; refusing to read this shard"),
        ("../evil.jpg", "0", "", "entry '../evil.jpg' at byte 1024: path contains a '..' component"),
        ("a/../../evil.jpg", "0", "", "entry 'a/../../evil.jpg' at byte 1024: path contains a '..' component"),
        ("evil.jpg", "2", "/etc/passwd", "entry 'evil.jpg' at byte 1024: symbolic link to '/etc/passwd'"),
        ("evil.jpg", "1", "ok.cls", "entry 'evil.jpg' at byte 1024: hard link to 'ok.cls'"),
        ("evil.jpg", "3", "", "entry 'evil.jpg' at byte 1024: character device entries are not allowed"),
        ("evil.jpg", "4", "", "entry 'evil.jpg' at byte 1024: block device entries are not allowed"),
        ("evil.jpg", "6", "", "entry 'evil.jpg' at byte 1024: fifo entries are not allowed"),
    ]

    @Test(arguments: cases) func hostileEntryIsRefused(entry: (name: String, type: Character, link: String, expected: String)) throws {
        var tar = TarBuilder()
        tar.add("ok.cls", [49])
        tar.add(entry.name, entry.type == "0" ? [1, 2, 3] : [], type: entry.type, link: entry.link)
        tar.end()
        let message = try readError(tar)
        #expect(message?.hasPrefix(entry.expected) == true, "\(message ?? "no error")")
    }

    @Test func truncatedShardNamesEntryAndOffset() throws {
        var tar = TarBuilder()
        tar.add("a.cls", [49])
        tar.add("a.jpg", [UInt8](repeating: 9, count: 3000))
        tar.end()
        tar.bytes = Array(tar.bytes.prefix(1024 + 512 + 1000))
        let message = try readError(tar)
        #expect(message?.hasPrefix("entry 'a.jpg' at byte 1024: data truncated or corrupt") == true, "\(message ?? "no error")")
    }

    @Test func truncatedHeaderNamesPreviousEntry() throws {
        var tar = TarBuilder()
        tar.add("a.cls", [49])
        tar.add("b.cls", [50])
        tar.bytes = Array(tar.bytes.prefix(1024 + 200))
        let message = try readError(tar)
        #expect(message?.hasPrefix("truncated or corrupt tar after entry 'a.cls', near byte 1024") == true, "\(message ?? "no error")")
    }

    @Test func hugeClaimedSizeIsTruncationNotACrash() throws {
        var tar = TarBuilder()
        tar.add("a.cls", [49])
        tar.add("a.jpg", [1, 2, 3], claimedSize: 0o77777777777)  // 8 GiB claimed, 512 bytes present
        let message = try readError(tar)
        // Refused on its claim, before any of it is read or allocated.
        #expect(message?.hasPrefix("entry 'a.jpg' at byte 1024 claims 8589934591 bytes, more than the") == true, "\(message ?? "no error")")
    }

    @Test func aClaimWithinTheLimitThatIsNotThereIsTruncation() throws {
        var tar = TarBuilder()
        tar.add("a.cls", [49])
        tar.add("a.jpg", [1, 2, 3], claimedSize: 0o7777777)  // 2 MiB claimed, 512 bytes present
        let message = try readError(tar)
        #expect(message?.hasPrefix("entry 'a.jpg' at byte 1024: data truncated or corrupt") == true, "\(message ?? "no error")")
    }

    @Test func corruptHeaderChecksum() throws {
        var tar = TarBuilder()
        tar.add("a.cls", [49])
        tar.add("b.cls", [50], corruptChecksum: true)
        tar.end()
        let message = try readError(tar)
        #expect(message?.hasPrefix("truncated or corrupt tar after entry 'a.cls', near byte 1024") == true, "got: \(message ?? "no error")")
    }

    @Test func notATarAtAll() throws {
        let path = dir.path + "/junk.tar"
        try Data((0..<2000).map { UInt8(truncatingIfNeeded: $0 * 7 + 1) }).write(to: URL(fileURLWithPath: path))
        do {
            let reader = try ShardReader(path: path)
            _ = try reader.next()
            Issue.record("expected an error")
        } catch let error as FormatError {
            #expect(error.message == "cannot open shard: Unrecognized archive format (not a tar or .tar.lz4 shard, or damaged at byte 0)", "\(error)")
        }
    }

    @Test func repeatedExtensionIsAnError() throws {
        var tar = TarBuilder()
        tar.add("a.jpg", [1])
        tar.add("a.JPG", [2])
        tar.end()
        let message = try readError(tar)
        #expect(message?.hasPrefix("entry 'a.JPG' at byte 1024: sample 'a' already has a 'jpg' entry") == true, "\(message ?? "no error")")
    }

    @Test func skipsDirectoriesMetadataAndNamesWithoutExtension() throws {
        var tar = TarBuilder()
        tar.add("d/", type: "5")
        tar.add("__meta__/info.json", [1])
        tar.add("__index__", [1])
        tar.add("README", [1])
        tar.add("d/x.cls", [55])
        tar.add("d/x.jpg", [1, 2])
        tar.end()
        let path = dir.path + "/skip.tar"
        try tar.write(to: path)
        #expect(try readAll([path]) == [Sample(key: "d/x", entries: ["cls": [55], "jpg": [1, 2]])])
    }

    @Test func missingShardIsAnError() throws {
        #expect(throws: FormatError.self) { _ = try ShardReader(path: dir.path + "/absent.tar") }
    }
}
