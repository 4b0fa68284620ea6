import Foundation
import FlowTestSupport
import Testing

/// Differential test of the engine: random workflows (`RandomWorkflow`) and random edit sequences.
/// After every `flow run` of the edited workspace, it must hold exactly what a clean run of the
/// same .dag, sources and `--set` values produces in a new directory with its own cache; `flow
/// status --check` must pass; and what `flow run -n` predicted for each step (run, restore,
/// cached) must be what the run did. A walk often comes back to a configuration (an output
/// deleted by hand, a value set back, a command edited back, a source no step reads edited):
/// the clean run of each (`RandomWorkflow.referenceKey`) is made once per seed and kept
/// (`CleanRuns`), as it is the costliest of the checks.
///
/// Environment: FLOW_DIFF_EDITS, the number of edits over all seeds (default 200); FLOW_DIFF_SEEDS,
/// how many seeds (default 4, seeds 1...N); FLOW_DIFF_SEED, one seed alone (to reproduce a
/// failure, with the FLOW_DIFF_EDITS it printed); FLOW_DIFF_STRICT=1, the checks that today's
/// engine is known to fail as well (see `Check.knownFailing`), or a list of some of them.
@Suite struct DifferentialTests {
    static let environment = ProcessInfo.processInfo.environment
    static let seeds: [UInt64] = {
        if let one = environment["FLOW_DIFF_SEED"].flatMap(UInt64.init) { return [one] }
        return Array(1...UInt64(environment["FLOW_DIFF_SEEDS"].flatMap(Int.init) ?? 4))
    }()
    static var editsPerSeed: Int {
        max(1, (environment["FLOW_DIFF_EDITS"].flatMap(Int.init) ?? 200) / seeds.count)
    }
    /// FLOW_DIFF_STRICT=1 enforces every known-failing check; a comma-separated list of check
    /// names (`leftovers,dryRunAfterRestore`) enforces those only.
    static let strictChecks: Set<Check> = {
        guard let value = environment["FLOW_DIFF_STRICT"], !value.isEmpty else { return [] }
        if value == "1" { return Check.knownFailing }
        return Set(value.split(separator: ",").compactMap { Check(rawValue: String($0)) })
    }()
    static var strict: Bool { !strictChecks.isEmpty }

    /// The kinds of disagreement, each reported on its own.
    enum Check: String, CaseIterable {
        /// `flow run` or `flow run -n` failed, or ran or planned other instances than the .dag has.
        case runs
        /// A declared output is missing, differs from the clean run, or holds an extra file.
        case outputs
        /// A file outside every declared output that the clean run does not have: an output of a
        /// step instance that left the workflow.
        case leftovers
        /// `flow status --check` after the run did not exit 0.
        case status
        /// `flow run -n` predicted another action than the run took, in a run that restored nothing.
        case dryRun
        /// The same, in a run that restored a step: the dry run judges steps downstream of it
        /// against the workspace before the restore.
        case dryRunAfterRestore

        /// Checks the engine is known to fail, enforced only with FLOW_DIFF_STRICT=1: none now.
        /// (Outputs of vanished instances left behind, and dry runs wrong downstream of a restore
        /// through a directory input, both of issue #14, were here until they were fixed.)
        static let knownFailing: Set<Check> = []

        var enforced: Bool { DifferentialTests.strictChecks.contains(self) || !Check.knownFailing.contains(self) }
    }

    @Test(arguments: seeds)
    func incrementalRunsEqualCleanRuns(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        // Every kind of fan-out the language has, unless FLOW_DIFF_BASIC=1 (the first kinds only).
        let switches = Self.environment["FLOW_DIFF_BASIC"] == "1" ? RandomWorkflow.Switches() : .all
        var workflow = RandomWorkflow(using: &rng, switches: switches)
        var overrides: [String: String] = [:]
        let dir = TemporaryDirectory("flow-diff")
        try write(workflow, to: dir)
        var history: [String] = []
        var cleanRuns = CleanRuns()
        var previous = workflow.instances(overrides: overrides)
        for n in 0...Self.editsPerSeed {
            if n > 0 {
                let edit = workflow.randomEdit(overrides: overrides, using: &rng)
                workflow.apply(edit, overrides: &overrides)
                history.append(edit.description)
                try write(workflow, to: dir)
                if case .deleteOutput(let p) = edit { try? FileManager.default.removeItem(atPath: dir.path + "/" + p) }
                if case .deleteSource(let p) = edit { try FileManager.default.removeItem(atPath: dir.path + "/" + p) }
            }
            let current = workflow.instances(overrides: overrides)
            if !Check.leftovers.enforced {
                // As a user must today (issue #14 item 1): remove the outputs of instances that left.
                let kept = Set(current.flatMap(\.outputs))
                for p in previous.flatMap(\.outputs) where !kept.contains(p) {
                    try? FileManager.default.removeItem(atPath: dir.path + "/" + p)
                }
            }
            previous = current
            let problems = try check(dir, workflow, overrides, cleanRuns: &cleanRuns)
            if !problems.isEmpty {
                Issue.record(Comment(rawValue: """
                    seed \(seed), after edit \(n) of \(Self.editsPerSeed) \
                    (reproduce: FLOW_DIFF_SEED=\(seed) FLOW_DIFF_EDITS=\(n)\(Self.strict ? " FLOW_DIFF_STRICT=" + (Self.environment["FLOW_DIFF_STRICT"] ?? "") : ""))
                    edits: \(history.isEmpty ? "none" : history.joined(separator: "; "))
                    --set: \(setArguments(overrides).joined(separator: " "))
                    \(problems.map { "[\($0.0.rawValue)] \($0.1)" }.joined(separator: "\n"))
                    --- flow.dag
                    \(workflow.render())
                    """))
                return
            }
        }
    }

    func setArguments(_ overrides: [String: String]) -> [String] {
        overrides.sorted { $0.key < $1.key }.flatMap { ["--set", "\($0.key)=\($0.value)"] }
    }

    /// The outputs of the clean runs made so far, by `RandomWorkflow.referenceKey`: every file of
    /// the clean directory but the .dag and the sources, or why the clean run failed.
    struct CleanRuns {
        enum Outcome {
            case wrote([String: Data])
            case failed(ProcessResult)
        }
        var outcomes: [String: Outcome] = [:]
    }

    /// What a clean run of this configuration writes, in a new directory with its own cache the
    /// first time.
    func cleanRun(_ workflow: RandomWorkflow, _ overrides: [String: String], _ runs: inout CleanRuns) throws -> CleanRuns.Outcome {
        let key = workflow.referenceKey(overrides: overrides)
        if let known = runs.outcomes[key] { return known }
        let clean = TemporaryDirectory("flow-diff-clean")
        try write(workflow, to: clean)
        let reference = try FlowBinary.run(["run", "-q"] + setArguments(overrides), in: clean.path)
        var outcome = CleanRuns.Outcome.failed(reference)
        if reference.status == 0 {
            var files = FileTree.files(in: clean.path)
            files["flow.dag"] = nil
            for path in workflow.sources.keys { files[path] = nil }
            outcome = .wrote(files)
        }
        runs.outcomes[key] = outcome
        return outcome
    }

    func write(_ workflow: RandomWorkflow, to dir: TemporaryDirectory) throws {
        try dir.write("flow.dag", workflow.render())
        for (path, text) in workflow.sources where (try? dir.read(path)) != text { try dir.write(path, text) }
    }

    /// Runs the edited workspace and a clean copy, and lists every enforced disagreement.
    func check(_ dir: TemporaryDirectory, _ workflow: RandomWorkflow, _ overrides: [String: String],
               cleanRuns: inout CleanRuns) throws -> [(Check, String)] {
        var problems: [(Check, String)] = []
        func report(_ check: Check, _ message: String) { if check.enforced { problems.append((check, message)) } }
        let sets = setArguments(overrides)
        let names = Set(workflow.instances(overrides: overrides).map(\.name))

        let dry = try FlowBinary.run(["run", "-n", "-v"] + sets, in: dir.path)
        let predicted = RunOutcomes.parse(dry.stdout)
        // A fan-out over files a step writes expands only once that step has run: the dry run
        // names it ("s4[*]: expands after s3") instead of its instances.
        let waiting = Set(dry.stdout.split(separator: "\n").compactMap { line -> String? in
            guard let r = line.range(of: ": expands after ") else { return nil }
            let name = line[..<r.lowerBound].split(separator: " ").last.map(String.init) ?? ""
            return name.hasSuffix("[*]") ? String(name.dropLast(3)) : name
        })
        let planned = names.filter { name in !waiting.contains(String(name.prefix { $0 != "[" })) }
        if dry.status != 0 || Set(predicted.keys) != planned {
            report(.runs, "flow run -n planned \(predicted.keys.sorted()), the .dag has \(planned.sorted()) before expansions: \(dry)")
        }
        let run = try FlowBinary.run(["run", "-v"] + sets, in: dir.path)
        var actual = RunOutcomes.parse(run.stdout)
        if actual.isEmpty && run.status == 0 && run.stdout.contains(" cached") {
            // Answered from the fresh snapshot: every step cached.
            actual = Dictionary(uniqueKeysWithValues: names.map { ($0, .cached) })
        }
        if run.status != 0 || Set(actual.keys) != names {
            report(.runs, "flow run did \(actual.keys.sorted()), the .dag has \(names.sorted()): \(run)")
        }
        let wrong = names.sorted().filter { predicted[$0] != nil && actual[$0] != nil && !predicted[$0]!.admits(actual[$0]!) }
        if !wrong.isEmpty {
            report(actual.values.contains(.restore) ? .dryRunAfterRestore : .dryRun, wrong.map { "\($0): predicted \(predicted[$0]!), did \(actual[$0]!)" }.joined(separator: "; ")
                + "\n--- flow run -n\n\(dry.stdout)--- flow run\n\(run.stdout)")
        }
        let status = try FlowBinary.run(["status", "--check"] + sets, in: dir.path)
        if status.status != 0 { report(.status, "flow status --check after the run: \(status)") }

        var expected: [String: Data]
        switch try cleanRun(workflow, overrides, &cleanRuns) {
        case .wrote(let outputs): expected = outputs
        case .failed(let reference):
            report(.runs, "the clean run failed: \(reference)")
            return problems
        }
        expected["flow.dag"] = Data(workflow.render().utf8)
        for (path, text) in workflow.sources { expected[path] = Data(text.utf8) }
        let got = FileTree.files(in: dir.path)
        let outputDirs = workflow.instances(overrides: overrides).flatMap(\.outputs).filter { $0.hasSuffix("/") }
        for (path, data) in expected.sorted(by: { $0.key < $1.key }) where got[path] != data {
            let text = got[path].map { String(decoding: $0, as: UTF8.self) }
            report(.outputs, "\(path): \(text.map { "holds \($0.debugDescription)" } ?? "missing"), "
                + "a clean run writes \(String(decoding: data, as: UTF8.self).debugDescription)")
        }
        for path in got.keys.sorted() where expected[path] == nil {
            if outputDirs.contains(where: { path.hasPrefix($0) }) {
                report(.outputs, "\(path): an extra file in a declared output directory")
            } else {
                report(.leftovers, "\(path): not written by any step of the workflow now, still in the workspace")
            }
        }
        return problems
    }
}
