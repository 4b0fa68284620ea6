import Foundation
import FlowTestSupport
import Testing

/// The C libraries only some commands need (libcurl for the remote cache; OpenBLAS, libarchive,
/// libturbojpeg, libpng for the ops) are loaded when first called, not at start-up
/// (Sources/CLazyLoad): the engine's commands start without them, the ops still get them, and a
/// library that cannot be loaded is a clear error.
@Suite struct LazyLibraryTests {
    static let lazy = ["libcurl.so.4", "libopenblas.so.0", "libarchive.so.13", "libturbojpeg.so.0", "libpng16.so.16"]

    /// The libraries the dynamic loader looked for while `flow ARGS` ran (LD_DEBUG=libs).
    func librariesLoaded(_ args: [String], in dir: String) throws -> (status: Int32, libraries: Set<String>) {
        let r = try FlowBinary.run(args, in: dir, environment: ["LD_DEBUG": "libs"])
        var found = Set<String>()
        for line in r.stderr.split(separator: "\n") {
            guard let range = line.range(of: "find library=") else { continue }
            found.insert(String(line[range.upperBound...].prefix { $0 != ";" && $0 != " " }))
        }
        return (r.status, found)
    }

    @Test func engineCommandsStartWithoutTheOpAndRemoteLibraries() throws {
        let dir = TemporaryDirectory("flow-lazy")
        try dir.write("flow.dag", "step a\n  out a.txt\n  run echo a > {out}\n")
        for args in [["--version"], ["run"], ["status"], ["runs"]] {
            let (status, libraries) = try librariesLoaded(args, in: dir.path)
            #expect(status == 0, "\(args)")
            #expect(libraries.contains("libsqlite3.so.0"), "LD_DEBUG output not understood for \(args): \(libraries)")
            #expect(libraries.isDisjoint(with: Self.lazy), "\(args) loaded \(libraries.intersection(Self.lazy))")
        }
    }

    @Test func anOpLoadsWhatItUsesWhenItUsesIt() throws {
        let dir = TemporaryDirectory("flow-lazy")
        let (status, libraries) = try librariesLoaded(
            ["op", "synth-images", "--count", "4", "--size", "16", "--format", "jpg", "--out", "data"], in: dir.path)
        #expect(status == 0)
        #expect(libraries.contains("libturbojpeg.so.0"))
        #expect(libraries.contains("libarchive.so.13"))
        #expect(!libraries.contains("libcurl.so.4"))
        #expect(FileManager.default.fileExists(atPath: dir.path + "/data/synth-000000.tar"))
    }

    /// libturbojpeg replaced by an empty file, in a mount namespace of the test's own.
    @Test func aLibraryThatCannotBeLoadedIsAClearError() throws {
        let cache = try FlowBinary.runProgram("/sbin/ldconfig", ["-p"], in: "/")
        guard let line = cache.stdout.split(separator: "\n").first(where: { $0.contains("libturbojpeg.so.0 ") && $0.contains("x86-64") }),
              let path = line.components(separatedBy: "=> ").last else {
            try Requirement.unmet("libturbojpeg.so.0 is not in the loader cache")
        }
        let dir = TemporaryDirectory("flow-lazy")
        let script = "mount --bind /dev/null \"$(readlink -f '\(path)')\" && exec \"$FLOW\" op synth-images --count 2 --size 16 --format jpg --out data"
        let probe = try FlowBinary.runProgram("unshare", ["-m", "true"], in: "/")
        guard probe.status == 0 else { try Requirement.unmet("cannot make a mount namespace here (unshare -m)") }
        let r = try FlowBinary.runProgram("unshare", ["-m", "sh", "-c", script], in: dir.path, environment: ["FLOW": FlowBinary.path])
        #expect(r.status == 69, "\(r.stderr)")
        #expect(r.stderr.contains("flow: error: cannot load libturbojpeg.so.0"), "\(r.stderr)")
        #expect(r.stderr.contains("apt-get install libturbojpeg0"), "\(r.stderr)")
    }
}
