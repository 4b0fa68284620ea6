import Foundation
import FlowTestSupport
import Testing
@testable import FlowRuntime

/// The steps a run found cached are journaled a batch to a row (`StateStore+CachedSteps`), and
/// every reader sees them as the entries they were when each had a row of its own.
@Suite struct CachedJournalTests {
    func store() throws -> (TemporaryDirectory, StateStore) {
        let dir = TemporaryDirectory("flow-cached-journal")
        return (dir, try StateStore(directory: dir.path + "/.flow"))
    }

    func run(_ state: StateStore) throws -> Int64 {
        try state.beginRun(command: "flow run", dag: "flow.dag", variables: [:])
    }

    @Test func aRunsEntriesIncludeItsCachedStepsInTheJournalsOrder() throws {
        let (dir, state) = try store()
        let id = try run(state)
        let t = Date(timeIntervalSince1970: 1_800_000_000)
        try state.setStep(run: id, step: "ran", state: .succeeded, key: "k1", started: t, ended: t.addingTimeInterval(1), exitStatus: 0)
        try state.setStep(run: id, step: "b-skipped", state: .skipped)
        try state.recordCached(run: id, [("z", "kz"), ("tab\tand\nnewline%", "kt"), ("a", "ka"), ("ran", "not this one")], ended: t)
        // A later batch's entry of a step wins over an earlier one.
        try state.recordCached(run: id, [("a", "ka2")], ended: t.addingTimeInterval(2))
        let steps = try state.steps(ofRun: id)
        #expect(steps.map(\.step) == ["a", "b-skipped", "tab\tand\nnewline%", "z", "ran"])
        #expect(try state.steps(ofRun: id, includingCached: false).map(\.step) == ["b-skipped", "ran"])
        let a = try #require(steps.first { $0.step == "a" })
        #expect(a.state == .cached && a.key == "ka2" && a.endedAt == t.addingTimeInterval(2) && a.startedAt == nil)
        #expect(a.log == "" && a.pid == 0 && a.jobID == "" && a.attempt == 1 && a.exitStatus == nil)
        // The step's own row wins over a cached entry of it in the same run.
        #expect(steps.first { $0.step == "ran" }?.state == .succeeded)
        #expect(try state.lastEntry(step: "tab\tand\nnewline%", run: id)?.entry.key == "kt")
        // Cached entries have no log: the last entry with a log is elsewhere or nowhere.
        #expect(try state.lastEntry(step: "z") == nil)
        // A run with no cached batch reads as before, and another run's batch is not this run's.
        let other = try run(state)
        try state.setStep(run: other, step: "only", state: .failed)
        #expect(try state.steps(ofRun: other).map(\.step) == ["only"])
        withExtendedLifetime(dir) {}
    }

    /// A Slurm job an interrupted run left is shadowed by the step's being found cached later.
    @Test func aStepFoundCachedLaterShadowsAnOldJob() throws {
        let (dir, state) = try store()
        let first = try run(state)
        try state.setStep(run: first, step: "train", state: .running, jobID: "4242", started: Date())
        try state.endRun(first, status: .interrupted, summary: "")
        #expect(SlurmJournal.openJobs(state)["train"]?.step.jobID == "4242")
        let second = try run(state)
        try state.recordCached(run: second, [("other", "k")], ended: Date())
        #expect(SlurmJournal.openJobs(state)["train"] != nil)
        try state.recordCached(run: second, [("train", "k")], ended: Date())
        #expect(SlurmJournal.openJobs(state).isEmpty)
        withExtendedLifetime(dir) {}
    }

    /// A state made by a flow of the layout before `run_cached` (3) gets the table when it is
    /// opened, and takes batches at once.
    @Test func aStateOfTheLayoutBeforeGetsTheTable() throws {
        let (dir, state) = try store()
        let id = try run(state)
        try state.db.execute("DROP TABLE run_cached; PRAGMA user_version = 3")
        state.close()
        let reopened = try StateStore(directory: dir.path + "/.flow")
        #expect(try reopened.db.query("PRAGMA user_version").first?[0].int == StateStore.layoutVersion)
        try reopened.recordCached(run: id, [("a", "k")], ended: Date())
        #expect(try reopened.steps(ofRun: id).map(\.step) == ["a"])
        withExtendedLifetime(dir) {}
    }

    /// `flow gc --keep-runs N` keeps the results the kept runs found cached, not only those they
    /// ran: here the only mention of the first result of `s` is run 2's cached batch.
    @Test func gcKeepsWhatAKeptRunFoundCached() throws {
        let dir = TemporaryDirectory("flow-cached-gc")
        func dag(_ s: String) -> String {
            "step s\n  out s.txt\n  run echo \(s) > {out}\nstep t\n  in src.txt\n  out t.txt\n  run cat src.txt > {out}\n"
        }
        func run(_ expected: String...) throws {
            let r = try FlowBinary.run(["run", "-q"], in: dir.path)
            #expect(r.status == 0 && expected.allSatisfy { r.stdout.contains($0) }, "\(r)")
        }
        try dir.write("flow.dag", dag("A"))
        try dir.write("src.txt", "1")
        try run("2 ran")
        try dir.write("src.txt", "2")
        try run("1 ran", "1 cached")
        try dir.write("flow.dag", dag("B"))
        try run("1 ran", "1 cached")
        let gc = try FlowBinary.run(["gc", "--keep-runs", "2"], in: dir.path)
        #expect(gc.status == 0, "\(gc)")
        try dir.write("flow.dag", dag("A"))
        try run("1 restored", "1 cached")
        #expect(try dir.read("s.txt") == "A\n")
    }
}
