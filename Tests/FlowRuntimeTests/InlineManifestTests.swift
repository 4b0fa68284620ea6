import Foundation
@testable import FlowRuntime
import FlowTestSupport
import Testing
import XXHash

/// Small files kept inside their manifest: the text form, the checks on doctored ones, restore.
@Suite struct InlineManifestTests {
    static let small = Array("tiny output\n".utf8)
    static let log = Array("step said this\n".utf8)

    /// A manifest with an inline file, an inline directory entry beside an object entry, an
    /// object file and an inline log.
    func manifest() -> Manifest {
        let entryBytes: [UInt8] = [0, 1, 2, 255]
        let entries: [Manifest.Entry] = [
            .init(path: "a.bin", digest: XXH128.hash(entryBytes).hex, size: 4, executable: true, inline: Manifest.inlineText(entryBytes)),
            .init(path: "b.npy", digest: XXH128.hash("big").hex, size: 1 << 20, executable: false),
        ]
        let tree = entries.map { ContentHash.TreeEntry(path: $0.path, digest: Digest128(hex: $0.digest)!, size: $0.size, executable: $0.executable) }
        return Manifest(key: XXH128.hash("k").hex, step: "s", outputs: [
            .init(path: "out.txt", kind: "file", digest: XXH128.hash(Self.small).hex, size: Int64(Self.small.count), executable: false,
                  entries: nil, inline: Manifest.inlineText(Self.small)),
            .init(path: "empty", kind: "file", digest: XXH128.hash([UInt8]()).hex, size: 0, executable: false, entries: nil, inline: ""),
            .init(path: "big.bin", kind: "file", digest: XXH128.hash("x").hex, size: 10_000, executable: false, entries: nil),
            .init(path: "dir", kind: "directory", digest: ContentHash.tree(tree).hex, size: 4 + (1 << 20), executable: false, entries: entries),
        ], exitStatus: 0, duration: 0.5, finishedAt: 1_700_000_000, log: XXH128.hash(Self.log).hex,
           logInline: Manifest.inlineText(Self.log), host: "node-1")
    }

    @Test func inlineFilesRoundTripAsVersion2AndNeedNoObject() throws {
        let m = manifest()
        #expect(m.text.hasPrefix("flow-manifest v2\n"))
        #expect(Manifest(text: m.text) == m)
        #expect(m.structuralProblem == nil)
        #expect(m.objectDigests == [Digest128(hex: XXH128.hash("x").hex)!, Digest128(hex: XXH128.hash("big").hex)!],
                "only the files that are not inline are objects")
        #expect(m.inlineFileCount == 4)
        // The empty file's line ends with an empty field, which must survive the text form.
        #expect(m.text.contains("file\tempty\t\(XXH128.hash([UInt8]()).hex)\t0\t-\t\n"))
    }

    @Test func aManifestWithoutInlineFilesIsStillVersion1() {
        var m = manifest()
        m.outputs = [m.outputs[2]]
        m.logInline = nil
        #expect(m.text.hasPrefix("flow-manifest v1\n"))
        #expect(Manifest(text: m.text) == m)
    }

    /// What a doctored inline field gives: each is refused before anything is restored.
    @Test(arguments: [
        ("bytes that do not match the digest", Manifest.inlineText(Array("tiny outpuT\n".utf8)), "12", "do not match their digest"),
        ("a length the size does not give", Manifest.inlineText(Self.small) + "AAAA", "12", "characters long where size 12 needs 16"),
        ("a size the bytes do not have", Manifest.inlineText(Self.small), "11", "decode to 12 bytes where the size is 11"),
        ("invalid base64", "dGlueSBvdXRwdXQK!!!!", "12", "characters long"),
        ("invalid base64 of the right length", "dGlueSBvdXRw*XQK", "12", "are not valid base64"),
        ("an absurd size", Manifest.inlineText(Self.small), "9223372036854775807", "impossible size 9223372036854775807"),
    ])
    func aDoctoredInlineFileMakesTheManifestCorrupt(what: String, field: String, size: String, expected: String) throws {
        let text = manifest().text.replacingOccurrences(
            of: "out.txt\t\(XXH128.hash(Self.small).hex)\t12\t-\t\(Manifest.inlineText(Self.small))\n",
            with: "out.txt\t\(XXH128.hash(Self.small).hex)\t\(size)\t-\t\(field)\n")
        let m = try #require(Manifest(text: text), "\(what): the text still parses")
        let problem = try #require(m.structuralProblem, "\(what) was not noticed")
        #expect(problem.contains("the inline bytes of 'out.txt'") && problem.contains(expected), "\(what): \(problem)")
        #expect(m.problem(declared: []) != nil)
    }

    @Test func aDoctoredInlineLogOrEntryMakesTheManifestCorrupt() {
        var m = manifest()
        m.logInline = Manifest.inlineText(Array("another log\n".utf8))
        #expect(m.structuralProblem?.contains("the inline bytes of its log do not match") == true, "\(m.structuralProblem ?? "")")
        m = manifest()
        m.outputs[3].entries![0].inline = "AAAA"
        #expect(m.structuralProblem?.contains("the inline bytes of 'dir/a.bin'") == true, "\(m.structuralProblem ?? "")")
        m = manifest()
        m.logInline = String(repeating: "A", count: 200_000)
        #expect(m.structuralProblem?.contains("longer than any inline file may be") == true, "\(m.structuralProblem ?? "")")
    }

    /// Random damage to a manifest's text (bytes flipped, cut, repeated) never crashes a reader:
    /// the text is refused, or its check names a problem, or every inline file decodes to bytes
    /// of its digest.
    @Test func damagedManifestTextNeverCrashesAndIsNeverTakenForOtherBytes() throws {
        let original = Array(manifest().text.utf8)
        let dir = TemporaryDirectory()
        let store = try ObjectStore(root: dir.path + "/cache")
        let alphabet = Array("AZaz09+/=%\t\n-x7".utf8)
        for seed in 0..<2_000 as Range<UInt64> {
            var rng = SeededGenerator(seed: seed)
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[i] = alphabet[Int.random(in: 0..<alphabet.count, using: &rng)]
                case 1: bytes.remove(at: i)
                default: bytes.insert(contentsOf: bytes[i..<min(bytes.count, i + 8)], at: i)
                }
            }
            guard let m = Manifest(text: String(decoding: bytes, as: UTF8.self)), m.structuralProblem == nil else { continue }
            for out in m.outputs where out.inline != nil {
                let decoded = try Manifest.bytes(of: out, from: store)
                #expect(XXH128.hash(decoded).hex == out.digest && Int64(decoded.count) == out.size, "seed \(seed)")
            }
        }
    }

    @Test(arguments: [false, true])
    func restoringAnInlineFileWritesItWithItsModeAfterCheckingIt(executable: Bool) throws {
        let dir = TemporaryDirectory()
        let store = try ObjectStore(root: dir.path + "/cache")
        try FileManager.default.createDirectory(atPath: dir.path + "/scratch", withIntermediateDirectories: true)
        let digest = XXH128.hash(Self.small)
        try store.restore(digest, inline: Manifest.inlineText(Self.small), size: Int64(Self.small.count), to: dir.path + "/out/x.txt",
                          executable: executable, link: .hardlink, scratch: dir.path + "/scratch")
        #expect(try dir.readData("out/x.txt") == Data(Self.small))
        let mode = try #require(FileStat.of(dir.path + "/out/x.txt")).mode & 0o777
        #expect(mode == (executable ? 0o755 : 0o644), "mode \(String(mode, radix: 8))")
        #expect(store.allObjects().isEmpty, "an inline file is not an object")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/scratch").isEmpty)

        #expect(throws: InlineBytesError.self) {
            try store.restore(XXH128.hash("other"), inline: Manifest.inlineText(Self.small), size: Int64(Self.small.count),
                              to: dir.path + "/out/y.txt", executable: executable, link: .copy)
        }
        #expect(!dir.exists("out/y.txt"), "bytes that do not match their digest are never written")
    }
}
