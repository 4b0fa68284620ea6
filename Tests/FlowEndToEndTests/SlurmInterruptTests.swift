import Foundation
import FlowTestSupport
import Glibc
import Testing

/// Ctrl-C with and without --detach, and `flow status` reattaching, on the real test Slurm
/// (members of the serialized `SlurmTests` suite: one cluster, one test at a time).
extension SlurmTests {
    /// The Slurm job of `step` as `flow status --json` shows it (nil while the journal has none).
    func statusJob(_ dir: TemporaryDirectory, step: String) throws -> (job: String, state: String, row: String)? {
        let r = try flow(dir, ["status", "--json"])
        guard let data = r.stdout.data(using: .utf8),
              let report = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let rows = report["steps"] as? [[String: Any]],
              let row = rows.first(where: { $0["step"] as? String == step }),
              let job = row["slurmJob"] as? String else { return nil }
        return (job, row["slurmState"] as? String ?? "", row["state"] as? String ?? "")
    }

    @Test func ctrlCWithDetachLeavesTheJobRunningAndTheNextRunAdoptsIt() throws {
        try TestSlurm.require()
        let dir = try workspace("""
            step slow
              out build/slow.out
              executor slurm
              run sleep 3; echo slow > {out}
            step after
              in  build/slow.out
              out build/after.out
              run cat {in} {in} > {out}
            """)
        let p = try startFlow(dir, ["run", "--detach"])
        var ids: [String] = []
        #expect(waitUntil(20) { ids = TestSlurm.activeJobs(step: "slow"); return !ids.isEmpty })
        // While the run holds the workspace, status shows the job and leaves it to the run.
        let live = try statusJob(dir, step: "slow")
        #expect(live?.job == ids.first && ["pending", "running"].contains(live?.row ?? ""), "\(String(describing: live))")
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        #expect(p.terminationStatus == 130)
        let output = try dir.read("flow.output")
        #expect(output.contains("left running as Slurm job \(ids.first ?? "?")"), "\(output)")
        #expect(TestSlurm.activeJobs(step: "slow") == ids, "--detach must not cancel the job")
        let r = try flow(dir, ["run"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("reattached to Slurm job \(ids.first ?? "?")"), "\(r)")
        #expect(try dir.read("build/after.out") == "slow\nslow\n")
        #expect(submittedScripts(dir).count == 1, "the job was submitted again: \(submittedScripts(dir))")
        #expect(try statusJob(dir, step: "slow") == nil, "the journal still names the job after it was committed")
    }

    @Test func ctrlCSignalsTheJobThenCancelsItAndCommitsNothing() throws {
        try TestSlurm.require()
        // Notes SIGTERM (as a step saving a checkpoint would) but goes on, so flow must cancel it.
        let dir = try workspace("""
            step stubborn
              out build/stubborn.out
              executor slurm
              run trap 'echo TERM >> signal.txt' TERM; echo partial > {out}; while true; do sleep 0.2; done
            """)
        let p = try startFlow(dir, ["run", "--grace", "1"])
        // Once the command runs, flow exec is there to pass the signal on.
        #expect(waitUntil(20) { dir.exists("build/stubborn.out") })
        let ids = TestSlurm.activeJobs(step: "stubborn")
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        #expect(p.terminationStatus == 130)
        let output = try dir.read("flow.output")
        #expect((try? dir.read("signal.txt"))?.contains("TERM") == true, "the job did not get SIGTERM: \(output)")
        #expect(output.contains("interrupted stubborn (job ended CANCELLED)"), "\(output)")
        #expect(TestSlurm.activeJobs(step: "stubborn").isEmpty, "the job was not cancelled")
        // The journal keeps the cancelled job; nothing is in the cache.
        let status = try flow(dir, ["status"])
        #expect(status.stdout.contains("stubborn  stale"), "\(status)")
        #expect(status.stdout.contains("Slurm job \(ids.first ?? "?") of run 1 ended CANCELLED"), "\(status)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir.path + "/cache/actions")) ?? []).isEmpty)
    }

    @Test func statusCommitsAJobThatFinishedAfterFlowWasKilled() throws {
        try TestSlurm.require()
        let dir = try workspace("""
            step orphan
              out build/orphan.out
              executor slurm
              run sleep 1; echo orphan > {out}
            """)
        let p = try startFlow(dir)
        var job: String?
        #expect(waitUntil(20) { job = try? statusJob(dir, step: "orphan")?.job; return job != nil })
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(waitUntil(20) { TestSlurm.activeJobs(step: "orphan").isEmpty })
        let status = try flow(dir, ["status"])
        #expect(status.stdout.contains("orphan: Slurm job \(job ?? "?") of run 1 finished on"), "\(status)")
        #expect(status.stdout.contains("committed to the cache now"), "\(status)")
        #expect(status.stdout.contains("orphan  fresh"), "\(status)")
        let r = try flow(dir, ["run"])
        #expect(r.status == 0 && r.stdout.contains("1 cached"), "\(r)")
        #expect(submittedScripts(dir).count == 1)
    }
}

/// `flow status` and Slurm without a cluster: fake commands that leave a mark when called.
@Suite struct SlurmStatusWithoutJobsTests {
    @Test func statusDoesNotCallSlurmWhenTheJournalNamesNoJob() throws {
        let dir = TemporaryDirectory("flow-slurm-quiet")
        try dir.write("flow.dag", "step a\n  out build/a.out\n  run echo a > {out}\n")
        for tool in ["sbatch", "squeue", "sacct", "scancel"] {
            try dir.write("fake-slurm/\(tool)", "#!/bin/sh\necho \(tool) >> \"\(dir.path)/slurm-called\"\nexit 1\n")
            chmod(dir.path + "/fake-slurm/" + tool, 0o755)
        }
        let env = ["FLOW_SLURM_BIN": dir.path + "/fake-slurm"]
        #expect(try FlowBinary.run(["status"], in: dir.path, environment: env).status == 0)
        #expect(try FlowBinary.run(["run"], in: dir.path, environment: env).status == 0)
        let status = try FlowBinary.run(["status"], in: dir.path, environment: env)
        #expect(status.status == 0 && status.stdout.contains("a     fresh"), "\(status)")
        #expect(!dir.exists("slurm-called"), "Slurm was called: \((try? dir.read("slurm-called")) ?? "")")
    }
}
