import Foundation
import FlowTestSupport
import Testing

/// Step logs as `flow run` and `flow log` show them: a step that prints nothing has no log file,
/// which every reader takes as an empty log; what a failing step printed, on stdout and stderr in
/// the order it wrote them, is the tail of its failure.
@Suite struct StepLogTests {
    static let dag = """
        step quiet
          out q.txt
          run echo q > {out}
        step loud
          out l.txt
          run echo to stdout; echo to stderr >&2; echo l > {out}
        step silentFailure
          out s.txt
          run exit 3
        step noisyFailure
          out n.txt
          run for i in $(seq 1 30); do echo out $i; echo err $i >&2; done; exit 4
        """

    @Test func onlyStepsThatPrintHaveALogFile() throws {
        let dir = TemporaryDirectory("flow-steplog")
        try dir.write("flow.dag", Self.dag)
        let run = try FlowBinary.run(["run", "-j", "2", "-k"], in: dir.path, environment: ["CI": ""])
        #expect(run.status == 1, "\(run)")
        let logs = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/.flow/logs/1").sorted()
        #expect(logs == ["loud.log", "noisyFailure.log"])
        #expect(try dir.read(".flow/logs/1/loud.log") == "to stdout\nto stderr\n")

        // The silent failure has no tail and no file to point to; the noisy one has its last 20
        // lines, in the order written.
        #expect(run.stderr.contains("FAILED silentFailure: exit status 3\n  exit 3\n"), "\(run)")
        #expect(!run.stderr.contains("FAILED silentFailure: exit status 3\n  exit 3\n  "), "\(run)")
        #expect(!run.stderr.contains("silentFailure.log"), "\(run)")
        let tail = (21...30).map { "  | out \($0)\n  | err \($0)\n" }.joined()
        #expect(run.stderr.contains("  last 20 lines of its log:\n" + tail + "  full log: "), "\(run)")

        // flow log: the cached log of a result, empty for a step that printed nothing; a run's
        // log of a step that printed nothing, empty.
        let quiet = try FlowBinary.run(["log", "quiet"], in: dir.path)
        #expect(quiet.status == 0 && quiet.stdout == "", "\(quiet)")
        let loud = try FlowBinary.run(["log", "loud"], in: dir.path)
        #expect(loud.status == 0 && loud.stdout == "to stdout\nto stderr\n", "\(loud)")
        let failed = try FlowBinary.run(["log", "silentFailure"], in: dir.path)
        #expect(failed.status == 0 && failed.stdout == "" && failed.stderr.contains("(empty: nothing printed)"), "\(failed)")
        let noisy = try FlowBinary.run(["log", "noisyFailure", "--run", "1"], in: dir.path)
        #expect(noisy.status == 0 && noisy.stdout.hasPrefix("out 1\nerr 1\nout 2\n"), "\(noisy)")

        // Once the run's logs are removed, there is no log of it to show.
        try FileManager.default.removeItem(atPath: dir.path + "/.flow/logs/1")
        let removed = try FlowBinary.run(["log", "silentFailure", "--run", "1"], in: dir.path)
        #expect(removed.status == 1 && removed.stderr.contains("no log of step 'silentFailure'"), "\(removed)")
    }
}
