import Foundation
import FlowCore
import Glibc

extension Runner {
    /// Variables a step gets from flow's own environment; anything else must be declared with
    /// `env` (and then enters the key), so that results do not depend on what happened to be set.
    static let baseEnvironment = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TMPDIR", "TERM", "TZ", "SHELL"]

    /// Prepares the step's outputs and log, and hands it to the executor.
    func launch(_ id: StepID, grant: ResourcePool.Grant, checkpointLock: CheckpointLock? = nil) throws {
        let step = workflow[id]
        // Every input file's signature, those an upstream step wrote and those inside input
        // directories too: a step that changes any of them fails and is not cached.
        // The signatures taken when the key was computed win: a file that changed since then
        // (while the step waited) must fail the check, not become the new baseline.
        evaluations[id]!.inputStats.merge(inputSignatures(step, skipping: evaluations[id]!.statedDirectories)) { evaluated, _ in evaluated }
        let evaluation = evaluations[id]!
        let attempt = (attempts[id] ?? 0) + 1
        attempts[id] = attempt
        let kind = plan.executor(of: id)
        let logPath = try context.logPath(run: runID, step: step.name)
        var process = ProcessDescription(step: step.name, argv: argv(for: step), environment: environment(for: step, grant: grant, attempt: attempt),
                                         workingDirectory: context.workspace.root, resources: step.resources, gpus: grant.gpus,
                                         logPath: logPath, timeout: step.timeout, attempt: attempt, executor: kind,
                                         cluster: step.cluster.over(options.cluster), outputs: step.outputs.map(\.path),
                                         actionKey: evaluation.key?.hex)
        if let work = leftWork.removeValue(forKey: step.name), reattach(id, work, as: process, grant: grant) { return }
        try prepareOutputs(step)
        if step.checkpoint, let key = evaluation.key {
            let dir = context.checkpointDirectory(key)
            try FileIO.makeDirectories(dir)
            process.environment["FLOW_CHECKPOINT_DIR"] = dir
            process.checkpointDirectory = dir
            // A local step's processes hold the lock; a cluster job's cannot (another machine).
            if kind == .local, let checkpointLock { process.heldDescriptor = checkpointLock.fd }
        }
        let token = nextToken
        nextToken += 1
        let handle = try executor.start(process, token: token)
        let started = Date()
        active[token] = Active(id: id, evaluation: evaluation, started: started, attempt: attempt, logPath: logPath,
                               handle: handle, kind: kind, checkpointLock: checkpointLock)
        // A cluster's steps have the cluster's time limit, which it enforces; pending time must not count.
        if kind.flowEnforcesTimeouts { timeouts.watch(token, limit: step.timeout, started: started) }
        journal(id, .running, key: evaluation.key, pid: handle, started: started, attempt: attempt, log: logPath, kind: kind)
        if heldStartReports != nil {
            let reporter = reporter
            heldStartReports!.append { reporter.stepStarted(step, reasons: evaluation.state.reasons, attempt: attempt) }
        } else {
            reporter.stepStarted(step, reasons: evaluation.state.reasons, attempt: attempt)
        }
    }

    /// The stat signature of every file the step reads (each file of an input directory), but
    /// for the directories whose files the evaluation stated while hashing them.
    func inputSignatures(_ step: Step, skipping stated: Set<String>) -> [String: FileStat] {
        var result: [String: FileStat] = [:]
        for input in step.inputs where !stated.contains(input.path) {
            let abs = context.workspace.absolute(input.path)
            guard let st = FileStat.of(abs) else { continue }
            if st.isDirectory {
                for rel in (try? ContentHash.listFiles(abs)) ?? [] {
                    if let f = FileStat.of(abs + "/" + rel) { result[input.path + "/" + rel] = f }
                }
            } else {
                result[input.path] = st
            }
        }
        return result
    }

    func argv(for step: Step) -> [String] {
        Runner.argv(for: step, flowExecutable: context.flowExecutable)
    }

    /// The command line of a step: its shell command under `/bin/sh -c`, or `flow op NAME ARGS`.
    public static func argv(for step: Step, flowExecutable: String) -> [String] {
        switch step.action {
        case .shell(let command): return ["/bin/sh", "-c", command]
        case .op(let name, _, let arguments): return [flowExecutable, "op", name] + arguments
        }
    }

    func environment(for step: Step, grant: ResourcePool.Grant, attempt: Int) -> [String: String] {
        let progress = context.progressPath(run: runID, step: step.name)
        var env = Runner.environment(for: step, cpus: grant.cpus, attempt: attempt, runID: runID, root: context.workspace.root,
                                     progressPath: progress)
        if plan.executor(of: step.id) == .local && (step.resources.gpus > 0 || !grant.gpus.isEmpty) {
            env["CUDA_VISIBLE_DEVICES"] = grant.gpus.map(String.init).joined(separator: ",")
        }
        return env
    }

    /// A step's environment: the base variables from flow's own, thread counts for `cpus`, the
    /// step's declared `env`, and the FLOW_* variables (docs/dag-language.md).
    public static func environment(for step: Step, cpus: Int, attempt: Int, runID: Int64, root: String,
                                   progressPath: String) -> [String: String] {
        var env: [String: String] = [:]
        // getenv, not ProcessInfo's environment: that builds a dictionary of every variable,
        // 4 % of flow's CPU in a build of 1,000 trivial steps.
        for name in Runner.baseEnvironment { if let v = getenv(name) { env[name] = String(cString: v) } }
        // Thread counts follow the step's cpus, for BLAS, OpenMP and PyTorch alike, unless declared.
        for name in ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"] { env[name] = String(cpus) }
        for (k, v) in step.environment { env[k] = v }
        env["FLOW_STEP"] = step.name
        env["FLOW_CPUS"] = String(cpus)
        env["FLOW_ATTEMPT"] = String(attempt)
        env["FLOW_RUN"] = String(runID)
        env["FLOW_WORKSPACE"] = root
        env["FLOW_PROGRESS"] = progressPath
        return env
    }

    /// Removes the step's old outputs and creates the directories it writes into. Outputs are
    /// never moved or edited in place: their cached copies stay intact.
    func prepareOutputs(_ step: Step) throws {
        for out in step.outputs {
            let abs = context.workspace.absolute(out.path)
            if let st = FileStat.of(abs, followLinks: false) {
                if st.isDirectory {
                    try FileIO.removeTree(abs)
                } else if unlink(abs) != 0 {
                    throw SystemError("remove old output", out.path)
                }
            }
            let dir = out.isDirectory ? abs : (abs as NSString).deletingLastPathComponent
            try FileIO.makeDirectories(dir)
        }
    }
}
