import Foundation
import FlowCore
import Glibc
import XXHash

/// `flow repro`: runs cached steps again, each alone in a scratch directory, from the exact
/// inputs its cached result was computed from, and compares what it writes with what the cache
/// holds, byte for byte. A step's inputs are its upstream steps' cached outputs (restored from
/// the cache) and copies of its source files, so each step is checked on its own: an upstream
/// step that does not reproduce cannot make a downstream one look wrong.
public final class Reproducer {
    public enum Verdict: Equatable {
        case reproduced
        /// The first output path (a file inside a directory output when it is one) that differs.
        case differs(path: String, cached: String, now: String)
        case failed(String)
        /// No cached result for the step's current definition: nothing to compare with.
        case notCached(String)

        public var ok: Bool { self == .reproduced }
    }

    public struct Outcome {
        public var step: String
        public var verdict: Verdict
        public var seconds: Double
        public var logPath: String?
    }

    let context: RunContext
    let workflow: Workflow
    let scratch: String
    let executor: LocalExecutor
    let cpus: Int

    /// `scratch` is created and emptied; each step gets its own directory in it.
    public init(context: RunContext, workflow: Workflow, scratch: String, cpus: Int, graceSeconds: Int = 10) {
        self.context = context
        self.workflow = workflow
        self.scratch = scratch
        self.cpus = cpus
        executor = LocalExecutor(graceSeconds: graceSeconds)
    }

    /// Reproduces `steps` in dependency order, calling `report` after each.
    public func run(_ steps: [StepID], report: (Outcome) -> Void) throws -> [Outcome] {
        let needed = workflow.closure(of: steps)
        let evaluator = try context.evaluator(for: workflow)
        let evaluations = evaluator.evaluateAll(targets: needed, forced: [])
        context.workspace.saveStatCache()
        let wanted = Set(steps)
        var outcomes: [Outcome] = []
        for (n, id) in workflow.order.filter({ wanted.contains($0) }).enumerated() {
            let step = workflow[id]
            let outcome: Outcome
            if let manifest = evaluations[id]?.manifest {
                outcome = reproduce(step, manifest: manifest, upstream: evaluator.manifests, directory: "\(scratch)/\(n)")
            } else {
                let why = evaluations[id]?.state.reasons.map(\.description).joined(separator: "; ") ?? "not evaluated"
                outcome = Outcome(step: step.name, verdict: .notCached(why), seconds: 0, logPath: nil)
            }
            outcomes.append(outcome)
            report(outcome)
        }
        return outcomes
    }

    func reproduce(_ step: Step, manifest: Manifest, upstream: [StepID: Manifest], directory: String) -> Outcome {
        let start = Date()
        let log = directory + ".log"
        func outcome(_ v: Verdict) -> Outcome {
            // A step that printed nothing leaves no log (see StepLog).
            Outcome(step: step.name, verdict: v, seconds: Date().timeIntervalSince(start),
                    logPath: FileManager.default.fileExists(atPath: log) ? log : nil)
        }
        do {
            try? FileManager.default.removeItem(atPath: directory)
            try FileIO.makeDirectories(directory)
            try stageInputs(step, upstream: upstream, into: directory)
            for out in step.outputs {
                let abs = directory + "/" + out.path
                try FileManager.default.createDirectory(atPath: out.isDirectory ? abs : (abs as NSString).deletingLastPathComponent,
                                                       withIntermediateDirectories: true)
            }
            var env = Runner.environment(for: step, cpus: cpus, attempt: 1, runID: 0, root: directory, progressPath: directory + ".progress")
            if step.checkpoint {
                let checkpoints = directory + ".checkpoint"
                try FileIO.makeDirectories(checkpoints)
                env["FLOW_CHECKPOINT_DIR"] = checkpoints
            }
            let process = ProcessDescription(step: step.name, argv: Runner.argv(for: step, flowExecutable: context.flowExecutable),
                                             environment: env, workingDirectory: directory, resources: step.resources, gpus: [],
                                             logPath: log, timeout: step.timeout, attempt: 1)
            _ = try executor.start(process, token: 0)
            var termination: Termination?
            while termination == nil { termination = executor.next(timeout: 1)?.termination }
            guard let termination, termination.succeeded else {
                return outcome(.failed(termination?.description ?? "did not finish"))
            }
            return outcome(try compare(manifest, in: directory))
        } catch {
            return outcome(.failed("\(error)"))
        }
    }

    /// Puts each input where the step expects it: upstream outputs from the cache, source files
    /// and directories copied from the workspace.
    func stageInputs(_ step: Step, upstream: [StepID: Manifest], into directory: String) throws {
        var restored: Set<String> = []
        // External data is read where it lives: the command names it by its absolute path.
        for input in step.inputs where !input.isExternal {
            if let (dep, out) = producer(of: input.path, step: step, upstream: upstream) {
                guard !restored.contains(out.path) else { continue }
                restored.insert(out.path)
                try restore(out, from: dep, into: directory)
                continue
            }
            let from = context.workspace.absolute(input.path)
            let to = directory + "/" + input.path
            try FileIO.makeDirectories((to as NSString).deletingLastPathComponent)
            if FileStat.of(to, followLinks: false) == nil {
                try FileManager.default.copyItem(atPath: from, toPath: to)
            }
        }
    }

    /// The upstream output (a file, or the directory containing the path) that provides `path`.
    func producer(of path: String, step: Step, upstream: [StepID: Manifest]) -> (String, Manifest.Output)? {
        for dep in step.dependencies {
            guard let manifest = upstream[dep] else { continue }
            for out in manifest.outputs where out.path == path || (out.isDirectory && path.hasPrefix(out.path + "/")) {
                return (workflow[dep].name, out)
            }
        }
        return nil
    }

    func restore(_ out: Manifest.Output, from step: String, into directory: String) throws {
        let files = out.isDirectory ? (out.entries ?? []).map { (out.path + "/" + $0.path, $0.digest, $0.size, $0.executable, $0.inline) }
                                    : [(out.path, out.digest, out.size, out.executable, out.inline)]
        if out.isDirectory { try FileIO.makeDirectories(directory + "/" + out.path) }
        for (path, hex, size, executable, inline) in files {
            guard let digest = Digest128(hex: hex) else { throw SystemError("read the manifest of \(step) for", path, errno: EINVAL) }
            try context.store.restore(digest, inline: inline, size: size, to: directory + "/" + path, executable: executable, link: .auto)
        }
    }

    /// Compares the outputs in `directory` with the manifest: the first difference, if any.
    func compare(_ manifest: Manifest, in directory: String) throws -> Verdict {
        for out in manifest.outputs {
            let abs = directory + "/" + out.path
            guard let st = FileStat.of(abs) else { return .differs(path: out.path, cached: short(out.digest), now: "missing") }
            if !out.isDirectory {
                let now = try ContentHash.file(abs).hex
                if now != out.digest { return .differs(path: out.path, cached: short(out.digest), now: short(now)) }
                continue
            }
            guard st.isDirectory else { return .differs(path: out.path, cached: "a directory", now: "a file") }
            let cached = Dictionary((out.entries ?? []).map { ($0.path, $0.digest) }, uniquingKeysWith: { a, _ in a })
            let files = try ContentHash.listFiles(abs)
            for f in files {
                let now = try ContentHash.file(abs + "/" + f).hex
                guard let was = cached[f] else { return .differs(path: out.path + "/" + f, cached: "absent", now: short(now)) }
                if was != now { return .differs(path: out.path + "/" + f, cached: short(was), now: short(now)) }
            }
            if let gone = cached.keys.sorted().first(where: { !Set(files).contains($0) }) {
                return .differs(path: out.path + "/" + gone, cached: short(cached[gone]!), now: "missing")
            }
        }
        return .reproduced
    }

    func short(_ hex: String) -> String { String(hex.prefix(12)) }
}
