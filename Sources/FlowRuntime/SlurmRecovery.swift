import Foundation
import FlowCore

extension SlurmExecutor {
    /// Jobs of run `run` that flow submitted but was killed before it could journal (the moment
    /// between `sbatch` returning and the journal entry): found by their scripts, which are
    /// written before `sbatch` and name the step, attempt and action key, and by the script path
    /// squeue shows for each job (`%o`). Such a job, still pending or running, or finished with a
    /// clean completion record, is reattached to like any detached job instead of submitting the
    /// step again (also when the journal names an older job of the step, e.g. before a resume).
    public func unrecordedWork(run: Int64, workspace: String, steps: Set<String>, journaled: [String: String]) -> [String: LeftWork] {
        let scripts = settings.jobsDirectory + "/scripts"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: scripts)) ?? [])
            .filter { $0.hasPrefix("\(run)-") && $0.hasSuffix(".sh") }
        guard !names.isEmpty else { return [:] }
        // The latest script of each step of that run in this workspace (tokens grow within a run).
        var latest: [String: (token: Int, path: String, submission: SlurmScript.Submission, written: Date?)] = [:]
        for name in names {
            let path = scripts + "/" + name
            guard let token = Int(name.dropLast(3).split(separator: "-").last ?? ""),
                  let text = try? String(contentsOfFile: path, encoding: .utf8),
                  let s = SlurmScript.submission(of: text), s.workingDirectory == workspace,
                  steps.contains(s.step), token > latest[s.step]?.token ?? -1 else { continue }
            let written = FileStat.of(path).map { Date(timeIntervalSince1970: Double($0.mtimeNs) / 1e9) }
            latest[s.step] = (token, path, s, written)
        }
        guard !latest.isEmpty,
              let found = try? client.jobs(named: Array(Set(latest.values.map(\.submission.jobName)))) else { return [:] }
        var result: [String: LeftWork] = [:]
        for (step, script) in latest {
            guard let job = found.first(where: { $0.script == script.path }), job.id != journaled[step] else { continue }
            let record = SlurmCompletionRecord.read(SlurmCompletionRecord.path(recordPattern(step: step), job: job.id))
            guard SlurmExecutor.isActive(job.state) || record.map({ $0.succeeded && !$0.wasStopped }) == true else { continue }
            result[step] = LeftWork(step: step, handle: job.id, actionKey: script.submission.key, attempt: script.submission.attempt,
                                    logPath: script.submission.log, startedAt: script.written)
        }
        return result
    }
}
