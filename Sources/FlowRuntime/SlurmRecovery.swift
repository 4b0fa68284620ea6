import Foundation
import FlowCore

extension Runner {
    /// Jobs of the last run that flow submitted but was killed before it could journal (the
    /// moment between `sbatch` returning and the journal entry): found by their scripts, which
    /// are written before `sbatch` and name the step, attempt and action key, and by the script
    /// path squeue shows for each job (`%o`). Such a job, still pending or running, or finished
    /// with a clean completion record, is adopted like any detached job instead of submitting the
    /// step again (also when the journal names an older job of the step, e.g. before a resume).
    /// Looks only when the last run was interrupted or died: one squeue call then.
    func findUnjournaledJobs() {
        guard let dispatch = slurmDispatch, let last = try? context.state.runs(limit: 1).first,
              last.status == "running" || last.status == "interrupted" else { return }
        let scripts = dispatch.slurm.settings.jobsDirectory + "/scripts"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: scripts)) ?? [])
            .filter { $0.hasPrefix("\(last.id)-") && $0.hasSuffix(".sh") }
        guard !names.isEmpty else { return }
        let steps = Set(workflow.steps.map(\.name))
        // The latest script of each step of that run in this workspace (tokens grow within a run).
        var latest: [String: (token: Int, path: String, submission: SlurmScript.Submission, written: Date?)] = [:]
        for name in names {
            let path = scripts + "/" + name
            guard let token = Int(name.dropLast(3).split(separator: "-").last ?? ""),
                  let text = try? String(contentsOfFile: path, encoding: .utf8),
                  let s = SlurmScript.submission(of: text), s.workingDirectory == context.workspace.root,
                  steps.contains(s.step), token > latest[s.step]?.token ?? -1 else { continue }
            let written = FileStat.of(path).map { Date(timeIntervalSince1970: Double($0.mtimeNs) / 1e9) }
            latest[s.step] = (token, path, s, written)
        }
        guard !latest.isEmpty else { return }
        let journaled = Dictionary(((try? context.state.steps(ofRun: last.id)) ?? []).map { ($0.step, $0.jobID) }) { a, _ in a }
        guard let found = try? dispatch.slurm.client.jobs(named: Array(Set(latest.values.map(\.submission.jobName)))) else { return }
        for (step, script) in latest {
            guard let job = found.first(where: { $0.script == script.path }), job.id != journaled[step] else { continue }
            let record = SlurmCompletionRecord.read(SlurmCompletionRecord.path(dispatch.slurm.recordPattern(step: step), job: job.id))
            guard SlurmExecutor.isActive(job.state) || record.map({ $0.succeeded && !$0.wasStopped }) == true else { continue }
            detachedJobs[step] = StateStore.RunStep(
                step: step, state: "running", key: script.submission.key, pid: 0, jobID: job.id, startedAt: script.written,
                endedAt: nil, exitStatus: nil, attempt: script.submission.attempt, log: script.submission.log, note: "",
                peakMemory: nil, outputSize: nil)
            reporter.note("\(step): found Slurm job \(job.id), submitted by run \(last.id) just before that flow was stopped")
        }
    }
}
