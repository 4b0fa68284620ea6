import Foundation
import FlowTestSupport
import Testing

/// `toolchain NAME = EXECUTABLE [ARGS...]` (docs/dag-language.md): what a step runs with enters
/// its key, a change is named by `status` and `explain`, and an unchanged environment costs no
/// process.
@Suite struct ToolchainTests {
    /// A fake interpreter: `-m pip freeze` prints the package files of its virtualenv's
    /// site-packages and counts its calls in `freeze-calls`; anything else runs as `sh`.
    static let interpreter = """
        #!/bin/sh
        if [ "$1 $2 $3" = "-m pip freeze" ]; then
          echo call >> "$(dirname "$0")/../../freeze-calls"
          cat "$(dirname "$0")"/../lib/python3.11/site-packages/*.txt
          exit 0
        fi
        exec /bin/sh "$@"

        """

    static let dag = """
        step train
          toolchain python = venv/bin/python -m pip freeze
          out model.txt
          run venv/bin/python -c "echo model > {out}"
        """

    /// A workspace whose `venv/bin/python` is a link (as in a virtualenv) to the fake interpreter,
    /// with scikit-learn `sklearn` installed.
    func workspace(sklearn: String, cache: String? = nil) throws -> TemporaryDirectory {
        let dir = TemporaryDirectory("flow-toolchain")
        try dir.write("flow.dag", Self.dag)
        try dir.write("tools/fakepy", Self.interpreter)
        chmod(dir.path + "/tools/fakepy", 0o755)
        try FileManager.default.createDirectory(atPath: dir.path + "/venv/bin", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/venv/bin/python", withDestinationPath: "../../tools/fakepy")
        try install(sklearn: sklearn, in: dir)
        return dir
    }

    /// Replaces the installed scikit-learn as pip does: another file in site-packages.
    func install(sklearn: String, in dir: TemporaryDirectory) throws {
        let packages = dir.path + "/venv/lib/python3.11/site-packages"
        try? FileManager.default.removeItem(atPath: packages)
        try dir.write("venv/lib/python3.11/site-packages/scikit_learn-\(sklearn).txt", "numpy==1.26.4\nscikit-learn==\(sklearn)\n")
        // Past the stat cache's racy window, so that what was probed is kept.
        usleep(250_000)
    }

    func freezeCalls(_ dir: TemporaryDirectory) -> Int {
        ((try? dir.read("freeze-calls")) ?? "").split(separator: "\n").count
    }

    @Test func aChangedPackageMakesTheStepStaleAndSaysWhich() throws {
        let dir = try workspace(sklearn: "1.4.0")
        let first = try FlowBinary.run(["run"], in: dir.path)
        #expect(first.status == 0 && first.stdout.contains("1 ran"), "\(first)")
        #expect(first.stderr.isEmpty, "the interpreter is declared by its toolchain: \(first)")
        #expect(freezeCalls(dir) == 1)

        try install(sklearn: "1.6.0", in: dir)
        let status = try FlowBinary.run(["status"], in: dir.path)
        #expect(status.stdout.contains("stale") && status.stdout.contains("toolchain python changed: scikit-learn==1.4.0 → scikit-learn==1.6.0"),
                "\(status)")
        let explain = try FlowBinary.run(["explain", "train"], in: dir.path)
        #expect(explain.stdout.contains("    toolchain python changed: scikit-learn==1.4.0 → scikit-learn==1.6.0"), "\(explain)")
        #expect(explain.stdout.contains("python = venv/bin/python -m pip freeze"), "\(explain)")
        let rerun = try FlowBinary.run(["run"], in: dir.path)
        #expect(rerun.stdout.contains("1 ran"), "\(rerun)")
        #expect(freezeCalls(dir) == 2, "one freeze per change, not one per command")

        // Back to 1.4.0: the first result comes back from the cache.
        try install(sklearn: "1.4.0", in: dir)
        let back = try FlowBinary.run(["run"], in: dir.path)
        #expect(back.stdout.contains("restored train") || back.stdout.contains("1 cached"), "\(back)")
    }

    @Test func anUnchangedEnvironmentStartsNoProcess() throws {
        let dir = try workspace(sklearn: "1.4.0")
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        #expect(freezeCalls(dir) == 1)
        for args in [["status"], ["status"], ["explain", "train"], ["run"], ["status", "--json"]] {
            let r = try FlowBinary.run(args, in: dir.path)
            #expect(r.status == 0, "\(r)")
        }
        #expect(freezeCalls(dir) == 1, "the freeze command ran again with nothing changed")
        // The interpreter itself replaced: its content is in the key too.
        try dir.write("tools/fakepy", Self.interpreter + "# patched\n")
        usleep(250_000)
        let status = try FlowBinary.run(["status"], in: dir.path)
        #expect(status.stdout.contains("toolchain python changed: executable "), "\(status)")
    }

    @Test func aSharedCacheDoesNotRestoreAResultOfAnotherEnvironment() throws {
        let cache = TemporaryDirectory("flow-toolchain-cache")
        let a = try workspace(sklearn: "1.4.0")
        let b = try workspace(sklearn: "1.6.0")
        let ranA = try FlowBinary.run(["run", "--cache", cache.path], in: a.path)
        #expect(ranA.stdout.contains("1 ran"), "\(ranA)")
        let ranB = try FlowBinary.run(["run", "--cache", cache.path], in: b.path)
        #expect(ranB.stdout.contains("1 ran"), "a result computed with scikit-learn 1.4.0 was restored for 1.6.0: \(ranB)")
        let c = try workspace(sklearn: "1.6.0")
        let restoredC = try FlowBinary.run(["run", "--cache", cache.path], in: c.path)
        #expect(restoredC.stdout.contains("restored train"), "the same environment shares results: \(restoredC)")
    }

    @Test func aToolchainThatCannotRunIsAWarningAndChangesTheKey() throws {
        let (r, _) = try FlowBinary.load("step s\n  toolchain r = no-such-interpreter-here --version\n  out o\n  run touch {out}\n", ["status"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.contains("warning: toolchain r: 'no-such-interpreter-here' not found on PATH"), "\(r)")
    }
}
