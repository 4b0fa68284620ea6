import Foundation
import FlowTestSupport
import Testing

/// `flow repro`: cached steps run again in a scratch copy and are compared with the cache.
@Suite struct ReproTests {
    static let dag = """
        step gen
          in  src/seed.txt
          out data/gen.txt
          run cat {in} {in} > {out}
        step parts
          in  data/gen.txt
          out parts/
          run cp {in} {out}/a.txt; wc -c < {in} > {out}/b.txt
        step noisy
          in  parts/a.txt
          out parts-noisy/
          run cp {in} {out}/same.txt; date +%s%N > {out}/stamp.txt
        """

    func workspace() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory("flow-repro")
        try dir.write("flow.dag", Self.dag)
        try dir.write("src/seed.txt", "seed\n")
        return dir
    }

    @Test func deterministicStepsReproduceAndNothingChanges() throws {
        let dir = try workspace()
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        let before = try dir.read("parts/b.txt")
        let r = try FlowBinary.run(["repro", "gen", "parts"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("gen: reproduced bit for bit"), "\(r)")
        #expect(r.stdout.contains("parts: reproduced bit for bit"), "\(r)")
        #expect(r.stdout.contains("2 of 2 steps reproduce bit for bit"), "\(r)")
        #expect(try dir.read("parts/b.txt") == before)
        #expect(!dir.exists(".flow/repro/\(0)") && ((try? FileManager.default.contentsOfDirectory(atPath: dir.path + "/.flow/repro")) ?? []).isEmpty)
        let status = try FlowBinary.run(["status", "--check"], in: dir.path)
        #expect(status.status == 0, "\(status)")
    }

    @Test func aNondeterministicStepIsNamedWithItsFirstDifferingFile() throws {
        let dir = try workspace()
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        let r = try FlowBinary.run(["repro"], in: dir.path)
        #expect(r.status == 1, "\(r)")
        #expect(r.stdout.contains("noisy: DIFFERS: parts-noisy/stamp.txt (cached "), "\(r)")
        #expect(r.stdout.contains("gen: reproduced bit for bit"), "\(r)")
        #expect(r.stderr.contains("2 of 3 steps reproduce bit for bit; 1 do not"), "\(r)")
    }

    @Test func aStepWithoutACachedResultCannotBeChecked() throws {
        let dir = try workspace()
        let r = try FlowBinary.run(["repro", "gen"], in: dir.path)
        #expect(r.status == 1, "\(r)")
        #expect(r.stdout.contains("gen: NOT CACHED: never run; run `flow run` first"), "\(r)")
    }

    @Test func aSampleIsRepeatable() throws {
        let dir = try workspace()
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        let a = try FlowBinary.run(["repro", "--sample", "2", "--seed", "7"], in: dir.path)
        let b = try FlowBinary.run(["repro", "--sample", "2", "--seed", "7"], in: dir.path)
        func names(_ r: ProcessResult) -> [String] {
            r.stdout.split(separator: "\n").compactMap { $0.split(separator: ":").first.map(String.init) }.filter { !$0.hasPrefix("flow") }
        }
        #expect(names(a).count == 2 && names(a) == names(b), "\(a) \(b)")
    }
}
