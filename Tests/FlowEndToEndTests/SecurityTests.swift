import Foundation
import FlowTestSupport
import Testing

/// A shared cache, a file name or a `--set` value must not be able to write or run anything
/// the workflow's author did not write.
@Suite struct SecurityTests {
    func run(_ dir: TemporaryDirectory, _ args: [String]) throws -> ProcessResult {
        try FlowBinary.run(args, in: dir.path)
    }

    /// The manifest file of the only action in the cache.
    func onlyManifest(_ dir: TemporaryDirectory) throws -> String {
        let actions = dir.path + "/cache/actions"
        let files = try FileManager.default.subpathsOfDirectory(atPath: actions).filter { !$0.hasSuffix("/") && $0.count > 3 }
        let manifests = files.filter { (try? String(contentsOfFile: actions + "/" + $0, encoding: .utf8))?.hasPrefix("flow-manifest") == true }
        #expect(manifests.count == 1, "\(files)")
        return actions + "/" + manifests[0]
    }

    @Test func aManifestNamingAPathOutsideItsDeclaredOutputsIsNeverRestored() throws {
        let outside = TemporaryDirectory("flow-outside")
        let dir = TemporaryDirectory("flow-sec")
        try dir.write("flow.dag", "step s\n  out out/\n  run echo hi > out/x.sh\n")
        #expect(try run(dir, ["run", "-q"]).status == 0)
        // Someone with write access to the cache edits the manifest to escape the workspace.
        let manifest = try onlyManifest(dir)
        let relOutside = String(repeating: "../", count: dir.path.split(separator: "/").count + 1) + outside.path.dropFirst() + "/x.sh"
        let edited = try String(contentsOfFile: manifest, encoding: .utf8)
            .replacingOccurrences(of: "entry\tx.sh\t", with: "entry\t\(relOutside)\t")
            .replacingOccurrences(of: "\t-\n", with: "\tx\n")
        #expect(edited.contains(relOutside))
        try edited.write(toFile: manifest, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: dir.path + "/out")

        let r = try run(dir, ["run"])
        #expect(r.status == 0, "\(r)")
        #expect(!outside.exists("x.sh"), "a cache manifest wrote outside the workspace")
        #expect(r.stderr.contains("manifest") && r.stderr.contains("corrupt"), "\(r)")
        #expect(try dir.read("out/x.sh") == "hi\n", "the step ran again")
        #expect(try run(dir, ["verify"]).status == 0)
    }

    @Test(arguments: [
        ("file\tout.txt\t", "file\t../escape-\(UUID().uuidString).txt\t"),
        ("file\tout.txt\t", "file\tother.txt\t"),
        ("file\tout.txt\t", "file\t.flow/state.db\t"),
    ])
    func aManifestFileOutputMustBeADeclaredOutput(original: String, replacement: String) throws {
        let dir = TemporaryDirectory("flow-sec")
        try dir.write("flow.dag", "step s\n  out out.txt\n  run echo hi > {out}\n")
        #expect(try run(dir, ["run", "-q"]).status == 0)
        let manifest = try onlyManifest(dir)
        let text = try String(contentsOfFile: manifest, encoding: .utf8)
        try text.replacingOccurrences(of: original, with: replacement).write(toFile: manifest, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: dir.path + "/out.txt")
        let r = try run(dir, ["run"])
        #expect(r.status == 0, "\(r)")
        if replacement.contains("../") {
            let escaped = String(replacement.split(separator: "\t")[1].dropFirst(3))
            #expect(!FileManager.default.fileExists(atPath: (dir.path as NSString).deletingLastPathComponent + "/" + escaped))
        }
        #expect(!dir.exists("other.txt"))
        #expect(try dir.read("out.txt") == "hi\n")
        #expect(r.stdout.contains("ran") || r.stderr.contains("corrupt"), "\(r)")
    }

    @Test func verifyReportsAndRemovesAManifestWithAnEscapingOrNonHexEntry() throws {
        let dir = TemporaryDirectory("flow-sec")
        try dir.write("flow.dag", "step s\n  out out/\n  run echo hi > out/a; echo ho > out/b\n")
        #expect(try run(dir, ["run", "-q"]).status == 0)
        let manifest = try onlyManifest(dir)
        let text = try String(contentsOfFile: manifest, encoding: .utf8)
        try text.replacingOccurrences(of: "entry\ta\t", with: "entry\t../../a\t").write(toFile: manifest, atomically: true, encoding: .utf8)
        let r = try run(dir, ["verify"])
        #expect(r.status == 1, "\(r)")
        #expect(r.stdout.contains("unsafe") || r.stdout.contains("invalid"), "\(r)")
        #expect(!FileManager.default.fileExists(atPath: manifest))
    }

    /// A field of a manifest's `file` line replaced by garbage: the digest (field 2) or the size
    /// (field 3), which must not be read as 0.
    @Test(arguments: [(2, "not-a-digest"), (3, "12abc")])
    func aManifestFieldThatIsGarbageIsTreatedAsCorrupt(_ field: Int, _ garbage: String) throws {
        let dir = TemporaryDirectory("flow-sec")
        try dir.write("flow.dag", "step s\n  out out.txt\n  run echo hi > {out}\n")
        #expect(try run(dir, ["run", "-q"]).status == 0)
        let manifest = try onlyManifest(dir)
        var lines = try String(contentsOfFile: manifest, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let i = lines.firstIndex { $0.hasPrefix("file\t") }!
        var fields = lines[i].split(separator: "\t").map(String.init)
        fields[field] = garbage
        lines[i] = fields.joined(separator: "\t")
        try lines.joined(separator: "\n").write(toFile: manifest, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: dir.path + "/out.txt")
        let r = try run(dir, ["run"])
        #expect(r.status == 0, "\(r)")
        #expect(!r.stderr.contains("StepCheckError"), "\(r)")
        #expect(r.stderr.contains("corrupt"), "the damaged manifest is reported: \(r)")
        #expect(r.stdout.contains("ran s"), "\(r)")
        #expect(try dir.read("out.txt") == "hi\n")
    }

    @Test func fanOutFileNamesCannotInjectShellCommands() throws {
        let dir = TemporaryDirectory("flow-sec")
        try dir.write("src/$(touch pwned1).txt", "a\n")
        try dir.write("src/`touch pwned2`.txt", "b\n")
        try dir.write("src/it's; touch pwned3.txt", "c\n")
        try dir.write("flow.dag", """
            step s[f in src/*.txt]
              in  {f}
              out out/{f.name}.copy
              run cp {f} {out}; echo {f.stem} {f.name} {f.dir} {step} >> names.log
            """)
        let r = try run(dir, ["run"])
        #expect(r.status == 0, "\(r)")
        for p in ["pwned1", "pwned2", "pwned3.txt", "pwned3"] { #expect(!dir.exists(p), "\(p) was created: \(r)") }
        #expect(try dir.read("out/$(touch pwned1).txt.copy") == "a\n")
        #expect(try dir.read("out/it's; touch pwned3.txt.copy") == "c\n")
        let names = try dir.read("names.log")
        #expect(names.contains("$(touch pwned1) $(touch pwned1).txt src s[src/$(touch pwned1).txt]"), "\(names)")
    }

    @Test func setValuesAreInsertedAsOneShellWordEvenInsideQuotes() throws {
        let dir = TemporaryDirectory("flow-sec")
        try dir.write("flow.dag", """
            let msg = hello
            step s
              out out.txt
              run echo {msg} > {out}
            step t
              out t.txt
              run echo "{msg}" > {out}
            step u
              out u.txt
              run echo '<{msg}>' > {out}
            step v
              out v.txt
              run echo "$(echo {msg})" > {out}; echo "`echo {msg}`" >> {out}; echo "$(echo '{msg}')" >> {out}
            """)
        for value in ["hi; touch pwned", "x\" ; touch pwned; echo \"", "$(touch pwned)", "a'b; touch pwned", "`touch pwned`\\"] {
            let r = try run(dir, ["run", "--set", "msg=\(value)"])
            #expect(r.status == 0, "\(r)")
            #expect(!dir.exists("pwned"), "--set \(value) ran a command")
            #expect(try dir.read("out.txt") == value + "\n")
            #expect(try dir.read("t.txt") == value + "\n")
            #expect(try dir.read("u.txt") == "<" + value + ">\n")
            // Command substitutions within double quotes start an unquoted context of their own.
            let v = try dir.read("v.txt").split(separator: "\n", omittingEmptySubsequences: false)
            #expect(v.count == 4 && v[0] == value[...] && v[2] == value[...], "\(v)")
        }
        for value in ["x; touch pwned", "x'; touch pwned; echo '"] {
            _ = try run(dir, ["run", "--set", "msg=\(value)", "v"])
            #expect(!dir.exists("pwned"), "--set \(value) ran a command inside a substitution")
        }
    }

    @Test func theRawFormInsertsAValueUnquoted() throws {
        let dir = TemporaryDirectory("flow-sec")
        try dir.write("flow.dag", """
            let flags = -n -e
            step s
              out out.txt
              run printf '%s|' {flags} > {out}; printf '%s|' {flags:raw} >> {out}
            """)
        let r = try run(dir, ["run"])
        #expect(r.status == 0, "\(r)")
        #expect(try dir.read("out.txt") == "-n -e|-n|-e|")
    }

    @Test(arguments: [
        ("include /etc/passwd\n", "include path '/etc/passwd' is absolute"),
        ("step s\n  out cache/\n  run true\n", "'cache' is flow's own directory"),
        ("step s\n  out .flow/x\n  run true\n", "'.flow/x' is flow's own directory"),
        ("step s\n  in .flow/state.db\n  out x\n  run true\n", "'.flow/state.db' is flow's own directory"),
        ("step s\n  in cache/objects/\n  out x\n  run true\n", "'cache/objects' is flow's own directory"),
    ])
    func flowsOwnDirectoriesAndAbsoluteIncludesAreRefused(dag: String, message: String) throws {
        let (r, dir) = try FlowBinary.load(dag, ["run"])
        #expect(r.status == 65, "\(r)")
        #expect(r.stderr.contains(message), "\(r)")
        #expect(!r.stderr.contains("root:"), "the included file's lines were echoed: \(r)")
        #expect(FileManager.default.fileExists(atPath: dir.path + "/cache/objects"))
    }

    @Test func anIncludeThatIsALinkOutOfTheWorkspaceIsRefused() throws {
        let dir = TemporaryDirectory("flow-sec")
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/pw.dag", withDestinationPath: "/etc/passwd")
        try dir.write("flow.dag", "include pw.dag\nstep s\n  out o.txt\n  run true\n")
        let r = try run(dir, ["run"])
        #expect(r.status == 65, "\(r)")
        #expect(r.stderr.contains("flow.dag:1:9: error: include path 'pw.dag' leads outside the workspace (to '/etc/passwd')"), "\(r)")
        #expect(!r.stderr.contains("root:"), "the linked file's lines were echoed: \(r)")

        // A link that stays inside the workspace is an include like any other.
        try dir.write("lib/common.dag", "let greeting = hi\n")
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/common.dag", withDestinationPath: "lib/common.dag")
        try dir.write("flow.dag", "include common.dag\nstep s\n  out o.txt\n  run echo {greeting} > {out}\n")
        let inside = try run(dir, ["run"])
        #expect(inside.status == 0, "\(inside)")
        #expect(try dir.read("o.txt") == "hi\n")
    }

    @Test func aLinkToTheCacheIsTheCache() throws {
        let dir = TemporaryDirectory("flow-sec")
        try dir.write("flow.dag", "step s\n  out c2/x\n  run true\n")
        try FileManager.default.createDirectory(atPath: dir.path + "/cache", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/c2", withDestinationPath: "cache")
        let r = try run(dir, ["run"])
        #expect(r.status == 65 && r.stderr.contains("'c2/x' is flow's own directory"), "\(r)")
    }

    @Test func anOutputThatIsASymlinkOutOfTheWorkspaceIsNotStored() throws {
        let outside = TemporaryDirectory("flow-outside")
        try outside.write("secret/key.txt", "secret\n")
        let dir = TemporaryDirectory("flow-sec")
        try dir.write("flow.dag", """
            step a
              out linked/
              run ln -s \(outside.path)/secret linked
            step b
              out d/
              run mkdir -p d && echo ok > d/ok.txt && ln -s \(outside.path)/secret d/inner
            """)
        let r = try run(dir, ["run", "-k"])
        #expect(r.status == 1, "\(r)")
        #expect(r.stderr.contains("symbolic link"), "\(r)")
        // Objects, and manifests, which keep small files inside them (in base64).
        let secret = Data("secret\n".utf8)
        for f in try FileManager.default.subpathsOfDirectory(atPath: dir.path + "/cache") {
            let text = String(decoding: FileManager.default.contents(atPath: dir.path + "/cache/" + f) ?? Data(), as: UTF8.self)
            #expect(!text.contains("secret\n") && !text.contains(secret.base64EncodedString()), "an outside file was copied into the cache: \(f)")
        }
    }
}
