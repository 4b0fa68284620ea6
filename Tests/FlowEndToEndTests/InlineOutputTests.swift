import Foundation
import FlowTestSupport
import Testing

/// Outputs of at most 2 KiB are kept inside their step's manifest, not as objects
/// (docs/cache.md): what the cache holds, restores, doctored manifests, gc and verify.
@Suite struct InlineOutputTests {
    func run(_ dir: TemporaryDirectory, _ args: [String]) throws -> ProcessResult {
        try FlowBinary.run(args, in: dir.path)
    }

    /// Every object file in the cache, by path under `objects/`.
    func objects(_ dir: TemporaryDirectory) throws -> [String] {
        try FileManager.default.subpathsOfDirectory(atPath: dir.path + "/cache/objects").filter { $0.count > 3 }
    }

    /// The text of every manifest in the cache.
    func manifests(_ dir: TemporaryDirectory) throws -> [(path: String, text: String)] {
        let actions = dir.path + "/cache/actions"
        return try FileManager.default.subpathsOfDirectory(atPath: actions).filter { $0.count > 3 }.map {
            (actions + "/" + $0, try String(contentsOfFile: actions + "/" + $0, encoding: .utf8))
        }
    }

    /// The manifest line of output `path`.
    func line(of path: String, in text: String) -> [Substring]? {
        text.split(separator: "\n").first { $0.hasPrefix("file\t\(path)\t") }?.split(separator: "\t", omittingEmptySubsequences: false)
    }

    @Test func anOutputAtTheThresholdIsInlineAndOneByteOverIsAnObject() throws {
        let dir = TemporaryDirectory("flow-inline")
        // Incompressible bytes, so that the object is stored as it is.
        try dir.write("flow.dag", """
            step at
              out at.bin
              run head -c 2048 /dev/urandom > at.bin
            step over
              out over.bin
              run head -c 2049 /dev/urandom > over.bin
            """)
        #expect(try run(dir, ["run", "-q"]).status == 0)
        let texts = try manifests(dir).map(\.text)
        let at = try #require(texts.first { $0.contains("\tat.bin\t") })
        let over = try #require(texts.first { $0.contains("\tover.bin\t") })
        #expect(at.hasPrefix("flow-manifest v2\n") && line(of: "at.bin", in: at)?.count == 6, "\(at)")
        #expect(line(of: "over.bin", in: over)?.count == 5, "\(over)")
        let overDigest = try #require(run(dir, ["hash", "over.bin"]).stdout.split(separator: " ").first)
        #expect(try objects(dir).map { String($0.split(separator: "/").last ?? "") } == [String(overDigest)],
                "only the output over the threshold is an object")
        let atDigest = try #require(run(dir, ["hash", "at.bin"]).stdout.split(separator: " ").first)
        #expect(line(of: "at.bin", in: at)?[2] == atDigest, "an inline output's digest is recorded as any output's")
    }

    /// A manifest keeps at most 16 KiB inline: a directory of many small files keeps the rest
    /// as objects, and all of them come back.
    @Test func smallFilesPastTheManifestsBudgetAreObjects() throws {
        let dir = TemporaryDirectory("flow-inline")
        try dir.write("flow.dag", "step s\n  out parts/\n  run mkdir -p parts; for i in 0 1 2 3 4 5 6 7 8 9; do head -c 2048 /dev/urandom > parts/$i; done\n")
        #expect(try run(dir, ["run", "-q"]).status == 0)
        let text = try #require(manifests(dir).first?.text)
        let entries = text.split(separator: "\n").filter { $0.hasPrefix("entry\t") }.map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        #expect(entries.count == 10 && entries.filter { $0.count == 6 }.count == 8, "8 of 2 KiB fill 16 KiB: \(entries.map(\.count))")
        #expect(try objects(dir).count == 2)
        let before = try (0..<10).map { try dir.readData("parts/\($0)") }
        try FileManager.default.removeItem(atPath: dir.path + "/parts")
        #expect(try run(dir, ["run", "-q"]).status == 0)
        #expect(try (0..<10).map { try dir.readData("parts/\($0)") } == before)
    }

    @Test func inlineOutputsComeBackByteForByteWithTheirModes() throws {
        let dir = TemporaryDirectory("flow-inline")
        try dir.write("flow.dag", """
            step make
              out tool.sh
              out empty.txt
              out data/
              run printf '#!/bin/sh\\necho tool\\n' > tool.sh; chmod +x tool.sh; : > empty.txt; mkdir -p data; echo a > data/a; echo made
            step use
              in tool.sh
              out used.txt
              run ./tool.sh > used.txt
            """)
        let first = try run(dir, ["run", "-q"])
        #expect(first.status == 0, "\(first)")
        let stored = try objects(dir)
        #expect(stored.isEmpty, "every file here is small: \(stored)")
        for path in ["tool.sh", "empty.txt", "data", "used.txt"] { try FileManager.default.removeItem(atPath: dir.path + "/" + path) }

        let again = try run(dir, ["run"])
        #expect(again.status == 0 && again.stdout.contains("2 restored"), "\(again)")
        #expect(try dir.read("tool.sh") == "#!/bin/sh\necho tool\n")
        #expect(FileManager.default.isExecutableFile(atPath: dir.path + "/tool.sh"), "the executable bit was lost")
        #expect(!FileManager.default.isExecutableFile(atPath: dir.path + "/used.txt"))
        #expect(try dir.readData("empty.txt").isEmpty)
        #expect(try dir.read("data/a") == "a\n")
        #expect(try dir.read("used.txt") == "tool\n")
        #expect(try run(dir, ["log", "make"]).stdout.contains("made"), "the inline log is read back")
        #expect(try run(dir, ["status", "--check"]).status == 0)
    }

    /// Doctored inline bytes: each makes the manifest corrupt; it is removed and the step runs.
    /// `field` of the output's line (3: its size, 5: its bytes) becomes `value`.
    @Test(arguments: [
        ("bytes that do not match the digest", 5, "aGVsbHAK"),
        ("a wrong length", 3, "7"),
        ("invalid encoding", 5, "aGVs*G8K"),
        ("an absurd size", 3, "99999999999999999"),
    ])
    func aDoctoredInlineOutputIsRejectedAndTheStepRunsAgain(what: String, field: Int, value: String) throws {
        let dir = TemporaryDirectory("flow-inline")
        try dir.write("flow.dag", "step s\n  out out.txt\n  run echo hello > out.txt; echo ran >> ran.log\n")
        #expect(try run(dir, ["run", "-q"]).status == 0)
        let (path, text) = try #require(manifests(dir).first)
        let fields = try #require(line(of: "out.txt", in: text))
        #expect(fields.count == 6 && fields[3] == "6", "\(fields)")
        var changed = fields
        changed[field] = Substring(value)
        let doctored = text.replacingOccurrences(of: fields.joined(separator: "\t"), with: changed.joined(separator: "\t"))
        #expect(doctored != text)
        try doctored.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: dir.path + "/out.txt")

        let r = try run(dir, ["run"])
        #expect(r.status == 0, "\(what): \(r)")
        #expect(r.stderr.contains("manifest") && r.stderr.contains("corrupt") && r.stderr.contains("inline bytes of 'out.txt'"), "\(what): \(r)")
        #expect(try dir.read("ran.log") == "ran\nran\n", "\(what): the step did not run again")
        #expect(try dir.read("out.txt") == "hello\n")
        #expect(try run(dir, ["verify"]).status == 0)
    }

    @Test func verifyFindsACorruptInlineOutputAndRemovesItsManifest() throws {
        let dir = TemporaryDirectory("flow-inline")
        try dir.write("flow.dag", "step s\n  out out.txt\n  run echo hello > out.txt\n")
        #expect(try run(dir, ["run", "-q"]).status == 0)
        let good = try run(dir, ["verify"])
        #expect(good.status == 0 && good.stdout.contains("(2 files inside them): all good"), "\(good)")
        let (path, text) = try #require(manifests(dir).first)
        // "hello\n" becomes "hellp\n": same length, other bytes.
        try text.replacingOccurrences(of: "\taGVsbG8K\n", with: "\taGVsbHAK\n").write(toFile: path, atomically: true, encoding: .utf8)
        let r = try run(dir, ["verify"])
        #expect(r.status == 1 && r.stdout.contains("inline bytes of 'out.txt' do not match their digest") && r.stdout.contains("removed"), "\(r)")
        #expect(try manifests(dir).isEmpty)
        #expect(try run(dir, ["status", "--check"]).status == 1, "the step has no result any more")
    }

    @Test func gcKeepsResultsWithInlineOutputsAndRemovesUnusedObjects() throws {
        let dir = TemporaryDirectory("flow-inline")
        try dir.write("flow.dag", """
            let n = 3000
            step s
              out small.txt
              out big.txt
              run echo {n} > small.txt; head -c {n} /dev/urandom > big.txt
            """)
        #expect(try run(dir, ["run", "-q", "--set", "n=3001"]).status == 0)
        #expect(try run(dir, ["run", "-q"]).status == 0)
        #expect(try objects(dir).count == 2)
        let gc = try run(dir, ["gc", "--keep-runs", "0"])
        #expect(gc.status == 0 && gc.stdout.contains("removed 1 results and 1 objects"), "\(gc)")
        #expect(try objects(dir).count == 1)
        try FileManager.default.removeItem(atPath: dir.path + "/small.txt")
        try FileManager.default.removeItem(atPath: dir.path + "/big.txt")
        let back = try run(dir, ["run"])
        #expect(back.status == 0 && back.stdout.contains("restored s"), "\(back)")
        #expect(try dir.read("small.txt") == "3000\n")
        #expect(try dir.readData("big.txt").count == 3000)
    }
}
