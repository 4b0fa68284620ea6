import ArgumentParser
import Foundation
import FlowCore
import FlowRuntime
import XXHash

/// `flow repro [FILE] [STEP...]`
struct ReproCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repro",
        abstract: "Run cached steps again in a scratch copy and check that they reproduce their cached outputs bit for bit.",
        discussion: """
            Each step runs alone in its own directory under .flow/repro/, from the exact inputs of its \
            cached result: its upstream steps' outputs restored from the cache, and copies of its source \
            files. The cache and the workspace are not changed. For each step, flow prints whether every \
            output reproduces bit for bit, or the first file that differs with both hashes, or why it \
            could not be checked (it failed, or it has no cached result: run `flow run` first). \
            Exits 1 if any step does not reproduce.
            """)

    @OptionGroup var workspace: WorkspaceOptions
    @OptionGroup var workflow: WorkflowArguments

    @Option(help: "Check only N steps, drawn at random (with --seed) from those selected.")
    var sample: Int?

    @Option(help: "Seed for --sample.")
    var seed: UInt64 = 0

    @Option(help: "Cores each step gets (FLOW_CPUS; default: all).")
    var cpus = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Keep the scratch directories (.flow/repro/) to inspect the outputs.")
    var keep = false

    func run() throws {
        try workflow.requireWorkflow(root: workspace.root)
        let context = try workspace.context()
        let (wf, _) = try workflow.load(context)
        var steps = try workflow.targetIDs(wf)
        if steps.isEmpty { steps = wf.order }
        if let sample, sample < steps.count {
            guard sample > 0 else { throw ValidationError("--sample needs at least 1") }
            // A repeatable draw: the steps whose (seed, name) hash lowest.
            let ranked = steps.map { (XXH128.hash(Array("\(seed) \(wf[$0].name)".utf8)).hex, $0) }
            steps = ranked.sorted { $0.0 < $1.0 }.prefix(sample).map(\.1)
        }
        let scratch = context.stateDirectory + "/repro/\(getpid())"
        defer { if !keep { try? FileManager.default.removeItem(atPath: scratch) } }
        let reproducer = Reproducer(context: context, workflow: wf, scratch: scratch, cpus: max(1, cpus))
        let outcomes = try reproducer.run(steps) { o in
            print(ReproCommand.line(o))
        }
        let good = outcomes.filter(\.verdict.ok).count
        let summary = "\(good) of \(outcomes.count) step\(outcomes.count == 1 ? "" : "s") reproduce bit for bit"
        if good == outcomes.count {
            print("flow: \(summary)")
        } else {
            Diagnostics.print("flow: \(summary); \(outcomes.count - good) do not\(keep ? " (scratch kept in \(scratch))" : "")")
            throw ExitCode(1)
        }
    }

    static func line(_ o: Reproducer.Outcome) -> String {
        let time = Format.duration(o.seconds)
        switch o.verdict {
        case .reproduced:
            return "\(o.step): reproduced bit for bit (\(time))"
        case .differs(let path, let cached, let now):
            return "\(o.step): DIFFERS: \(path) (cached \(cached), now \(now))"
        case .failed(let why):
            return "\(o.step): FAILED: \(why)\(o.logPath.map { " (log: \($0))" } ?? "")"
        case .notCached(let why):
            return "\(o.step): NOT CACHED: \(why); run `flow run` first"
        }
    }
}

