import ArgumentParser
import Foundation
import FlowCore
import FlowRuntime

/// `flow run [FILE] [STEP...]`
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the steps that are stale (and restore those that are cached), in parallel.",
        discussion: """
            Steps whose result is in the cache are not run again: their outputs are restored. \
            Exit status: 0 when every step succeeded, 1 when one failed, 64 for a usage error, \
            65 for an error in the .dag, 130 when interrupted (run it again to resume).
            """)

    @OptionGroup var workspace: WorkspaceOptions
    @OptionGroup var workflow: WorkflowArguments
    @OptionGroup var remoteOptions: RemoteOptions

    @Option(name: [.customShort("j", allowingJoined: true), .customLong("jobs")],
            help: "Run at most N steps at once (default: the number of cores).")
    var jobs: Int?

    @Flag(name: [.customShort("n"), .customLong("dry-run")], help: "Show what would run, and why, without running anything.")
    var dryRun = false

    @Flag(name: [.short, .customLong("keep-going")], help: "Go on with independent steps after a failure.")
    var keepGoing = false

    @Option(help: ArgumentHelp("Run STEP even if it is cached (repeatable; a base name forces all its instances).", valueName: "STEP"))
    var force: [String] = []

    @Option(help: "How outputs come back from the cache: auto (reflink, else copy), copy, or hardlink (read-only).")
    var link: LinkMode = .auto

    @Option(help: "Seconds a step gets to stop after SIGTERM when interrupted, before SIGKILL.")
    var grace: Double = 30

    @Option(help: "GPUs on this machine (default: $FLOW_GPUS, else the /dev/nvidiaN devices).")
    var gpus: Int?

    @Flag(help: "Sync the cache to disk before recording each step (survives power loss step by step; slower).")
    var sync = false

    @Flag(help: "Wait for another run of this workspace to finish instead of failing.")
    var wait = false

    @Option(help: "Where steps without their own 'executor' setting run: local or slurm.")
    var executor: ExecutorKind = .local

    @Option(help: "Slurm partition for Slurm steps that do not name one.")
    var partition: String?

    @Option(help: "Slurm account for Slurm steps that do not name one.")
    var account: String?

    @Option(help: "Slurm QOS for Slurm steps that do not name one.")
    var qos: String?

    @Option(help: "Slurm node constraint for Slurm steps that do not name one.")
    var constraint: String?

    @Option(help: ArgumentHelp("Extra sbatch options for every Slurm step, e.g. --sbatch='--exclusive' (added before the step's own).", valueName: "OPTS"))
    var sbatch: String?

    @Flag(help: "On Ctrl-C, leave Slurm jobs running instead of cancelling them; run flow again to wait for them and commit their results.")
    var detach = false

    @Flag(name: .shortAndLong, help: "Print only failures and the summary.")
    var quiet = false

    @Flag(name: .shortAndLong, help: "Print each step's command and cached steps too.")
    var verbose = false

    func run() throws {
        if !dryRun && force.isEmpty && !remoteOptions.hasUploadsToFinish(root: workspace.root)
            && FreshPath.noopRun(workspace, workflow, quiet: quiet) { return }
        try workflow.requireWorkflow(root: workspace.root)
        // Read while the workspace opens and the workflow loads (see `FreshPath.deltaAhead`).
        let snapshot = force.isEmpty ? FreshPath.deltaAhead(workspace, workflow) : nil
        let context = try workspace.context()
        context.remote = try remoteOptions.connect(context, root: workspace.root)
        let (wf, file) = try workflow.load(context)
        var options = RunOptions()
        options.snapshot = snapshot?.take() ?? nil
        options.targets = try workflow.targetIDs(wf)
        options.deferredTargets = wf.deferred.map(\.baseName).filter { workflow.targets.contains($0) }
        if let jobs {
            guard jobs >= 1 else { throw ValidationError("-j needs at least 1") }
            options.jobs = jobs
        }
        options.dryRun = dryRun
        options.keepGoing = keepGoing
        options.forced = Set(try WorkflowArguments.words(force).targetIDs(wf))
        options.link = link
        options.grace = grace
        options.syncEveryCommit = sync
        options.gpus = gpus ?? RunCommand.detectGPUs()
        options.commandLine = CommandLine.arguments.joined(separator: " ")
        options.dagPath = file
        options.executor = executor
        options.cluster = ClusterSettings(partition: partition, account: account, qos: qos, constraint: constraint,
                                          sbatch: sbatch.map { [$0] } ?? [])
        options.detach = detach
        // A local step that asks for more GPUs than there are would run on the CPU unnoticed.
        let hungry = wf.closure(of: options.targets).map { wf[$0] }.filter {
            $0.resources.gpus > options.gpus && ($0.executor ?? options.executor).usesMachineResources
        }
        if let first = hungry.first, !dryRun {
            Diagnostics.print("flow: error: \(first.name)\(hungry.count > 1 ? " and \(hungry.count - 1) more" : "") asks for " +
                              "\(first.resources.gpus) GPU\(first.resources.gpus == 1 ? "" : "s"), and this machine has \(options.gpus) " +
                              "(counted from /dev/nvidia*; --gpus N or FLOW_GPUS=N says otherwise, 'executor slurm' sends it to a cluster)")
            throw ExitCode(64)
        }
        if force.isEmpty { options.snapshotContext = FreshPath.saveContext(workspace, workflow, wf) }
        let lock = dryRun ? nil : try WorkspaceLock.take(context, wait: wait)
        let reporter = makeReporter()
        let local = LocalExecutor(graceSeconds: Int(grace.rounded(.up)))
        let workflowName = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        let executor = ExecutorRouter([
            .local: { local },
            .slurm: {
                SlurmExecutor(settings: SlurmExecutor.Settings(jobsDirectory: context.cacheDirectory + "/jobs",
                                                               flowExecutable: context.flowExecutable, workflowName: workflowName))
            },
        ])
        let runner = try Runner(context: context, workflow: wf, options: options, executor: executor, reporter: reporter)
        runner.replan = { try workflow.load(context, warnings: false).0 }
        let summary = try runner.run()
        runner.leaveToExit()
        LeftForExit.leave(wf)
        withExtendedLifetime(lock) {}
        if summary.interrupted { throw ExitCode(130) }
        if summary.failed { throw ExitCode(1) }
    }

    /// A live status area on a terminal; plain lines otherwise (with timestamps when the output
    /// is a log, not for dry runs), and always with --quiet. See docs/report.md.
    func makeReporter() -> RunReporter {
        if !quiet && !dryRun && TerminalReporter.suitable() {
            return TerminalReporter(verbose: verbose)
        }
        return PlainReporter(quiet: quiet, verbose: verbose, timestamps: !dryRun && !TerminalReporter.suitable())
    }

    static func detectGPUs() -> Int {
        if let s = ProcessInfo.processInfo.environment["FLOW_GPUS"], let n = Int(s) { return n }
        let devices = (try? FileManager.default.contentsOfDirectory(atPath: "/dev")) ?? []
        return devices.filter { $0.hasPrefix("nvidia") && Int($0.dropFirst(6)) != nil }.count
    }
}

extension WorkflowArguments {
    /// Workflow arguments built from a list of words (a file and step names), as if typed.
    static func words(_ words: [String]) throws -> WorkflowArguments {
        try WorkflowArguments.parse(["--"] + words)
    }
}
