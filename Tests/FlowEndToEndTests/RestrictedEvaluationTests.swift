import Foundation
import FlowTestSupport
import Testing

/// The evaluation restricted by the fresh snapshot (`FreshSnapshot.Delta`): after a change,
/// `flow status` and `flow run` evaluate only the steps that looked at a changed path and what
/// is downstream of them, and take every other step as fresh. Taking a step as fresh wrongly
/// would leave a stale result in place, so the differential test compares, after every random
/// edit, what the restricted status says of each step with what a full evaluation says, and
/// checks that a restricted run leaves nothing a full evaluation finds to do.
///
/// Environment: FLOW_RESTRICT_EDITS, edits per seed (default 30); FLOW_RESTRICT_SEED, one seed alone.
@Suite struct RestrictedEvaluationTests {
    static let environment = ProcessInfo.processInfo.environment
    static let seeds: [UInt64] = environment["FLOW_RESTRICT_SEED"].flatMap(UInt64.init).map { [$0] } ?? [1, 2, 3]
    static let editsPerSeed = environment["FLOW_RESTRICT_EDITS"].flatMap(Int.init) ?? 30

    /// What a user may do between two commands: the random workflow's edits, and those only
    /// the snapshot has to care about.
    enum Edit: CustomStringConvertible {
        case workflow(RandomWorkflow.Edit)
        /// An output's content changed by hand.
        case editOutput(String)
        /// A file nobody declares appears in a directory a step reads.
        case strayFile(String)
        /// A source rewritten in place with the same content (new signature, same digest).
        case touch(String)
        /// A source's content changed in place, as `echo ... > file` does (its directory's
        /// listing unchanged, unlike an editor that saves by renaming).
        case editInPlace(String)
        /// `flow gc`: cache entries removed, which no observed path shows.
        case gc

        var description: String {
            switch self {
            case .workflow(let e): return e.description
            case .editOutput(let p): return "edit output \(p)"
            case .strayFile(let p): return "add \(p)"
            case .touch(let p): return "touch \(p)"
            case .editInPlace(let p): return "edit \(p) in place"
            case .gc: return "flow gc"
            }
        }
    }

    @Test(arguments: seeds)
    func restrictedEvaluationEqualsFullEvaluation(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        // Fan-outs over produced files (`Workflow.deferred`) are left out on odd seeds: with one,
        // every evaluation is a full one, and the restriction would go untested.
        let switches = RandomWorkflow.Switches(valueLists: true, gathers: true, producedFileFanouts: seed % 2 == 0)
        var workflow = RandomWorkflow(using: &rng, switches: switches)
        var overrides: [String: String] = [:]
        let dir = TemporaryDirectory("flow-restrict")
        try write(workflow, to: dir)
        var history: [String] = []
        var restricted = 0
        for n in 1...Self.editsPerSeed {
            let sets = setArguments(overrides)
            // A run, then a status once its outputs are out of the racy window: a snapshot to restrict by.
            let run = try FlowBinary.run(["run", "-q"] + sets, in: dir.path)
            try #require(run.status == 0, "seed \(seed) after \(history): \(run)")
            Thread.sleep(forTimeInterval: 0.12)
            _ = try FlowBinary.run(["status", "--check"] + sets, in: dir.path)

            let edit = randomEdit(workflow, overrides, dir, using: &rng)
            history.append(edit.description)
            switch edit {
            case .workflow(let e):
                workflow.apply(e, overrides: &overrides)
                try write(workflow, to: dir)
                if case .deleteOutput(let p) = e { try? FileManager.default.removeItem(atPath: dir.path + "/" + p) }
                if case .deleteSource(let p) = e { try FileManager.default.removeItem(atPath: dir.path + "/" + p) }
            case .editOutput(let p), .strayFile(let p):
                try dir.write(p, "edited by hand \(n)\n")
            case .touch(let p):
                try overwrite(dir, p, try dir.read(p))
            case .editInPlace(let p):
                let text = "edited in place \(n)\n"
                try overwrite(dir, p, text)
                workflow.sources[p] = text
            case .gc:
                _ = try FlowBinary.run(["gc", "--keep-runs", "0"], in: dir.path)
            }
            let after = setArguments(overrides)
            let context = "seed \(seed), edit \(n) (reproduce: FLOW_RESTRICT_SEED=\(seed) FLOW_RESTRICT_EDITS=\(n))\n"
                + "edits: \(history.joined(separator: "; "))\n--- flow.dag\n\(workflow.render())"

            let snapshot = dir.exists(".flow/fresh") ? try dir.readData(".flow/fresh") : nil
            let fast = try status(dir, after)
            try? FileManager.default.removeItem(atPath: dir.path + "/.flow/fresh")
            let full = try status(dir, after)
            #expect(fast.rows == full.rows, "restricted and full evaluations differ\n\(context)\n--- restricted\n\(fast.text)--- full\n\(full.text)")
            if fast.evaluated > 0 && fast.evaluated < full.evaluated { restricted += 1 }

            // The same snapshot restricts a run: it must leave nothing for a full evaluation to do.
            if let snapshot { try snapshot.write(to: URL(fileURLWithPath: dir.path + "/.flow/fresh")) }
            let rerun = try FlowBinary.run(["run", "-q"] + after, in: dir.path)
            try #require(rerun.status == 0, "\(context)\n\(rerun)")
            try? FileManager.default.removeItem(atPath: dir.path + "/.flow/fresh")
            let check = try status(dir, after)
            #expect(check.mustRun == 0, "a restricted run left work undone\n\(context)\n\(check.text)")
        }
        // Most edits change data, not the workflow: the restriction must have been used (unless
        // a fan-out over produced files turns it off).
        let deferred = workflow.steps.contains { if case .produced = $0.domain { return true } else { return false } }
        #expect(deferred || restricted >= Self.editsPerSeed / 5, "only \(restricted) of \(Self.editsPerSeed) evaluations were restricted")
    }

    static let chain = """
        step a
          in  src/a.txt
          out gen/a.txt
          run tr a-z A-Z < src/a.txt > {out}
        step b
          in  gen/a.txt
          out gen/b.txt
          run cat gen/a.txt gen/a.txt > {out}
        step c
          in  src/c.txt
          out gen/c.txt
          run cat src/c.txt > {out}
        """

    /// A built workspace whose snapshot holds.
    func chainWorkspace() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory("flow-restrict-chain")
        try dir.write("flow.dag", Self.chain)
        try dir.write("src/a.txt", "alpha\n")
        try dir.write("src/c.txt", "gamma\n")
        let run = try FlowBinary.run(["run", "-q"], in: dir.path)
        #expect(run.status == 0, "\(run)")
        Thread.sleep(forTimeInterval: 0.15)
        let first = try status(dir, [])
        #expect(first.mustRun == 0 && first.evaluated == 3, "the run left its three steps to be evaluated once: \(first.text)")
        #expect(try status(dir, []).evaluated == 0, "the status after it wrote a complete snapshot")
        return dir
    }

    @Test func oneChangedLeafEvaluatesItsDownstreamOnly() throws {
        let dir = try chainWorkspace()
        try overwrite(dir, "src/a.txt", "beta\n")
        let s = try status(dir, [])
        #expect(s.evaluated == 2 && s.mustRun == 2, "\(s.text)")
        let run = try FlowBinary.run(["run"], in: dir.path)
        #expect(run.status == 0 && run.stdout.contains("2 ran, 1 cached"), "\(run)")
        #expect(try dir.read("gen/b.txt") == "BETA\nBETA\n")
        Thread.sleep(forTimeInterval: 0.15)
        #expect(try status(dir, []).evaluated == 2, "the steps that ran are evaluated once more")
        #expect(try status(dir, []).evaluated == 0)
    }

    @Test func outputDeletedOrEditedByHandIsSeen() throws {
        let dir = try chainWorkspace()
        try FileManager.default.removeItem(atPath: dir.path + "/gen/b.txt")
        let deleted = try status(dir, [])
        #expect(deleted.evaluated == 1 && deleted.text.contains("output missing: gen\\/b.txt"), "\(deleted.text)")
        try dir.write("gen/b.txt", "tampered\n")
        let edited = try status(dir, [])
        #expect(edited.evaluated == 1 && edited.text.contains("restorable"), "\(edited.text)")
        let run = try FlowBinary.run(["run"], in: dir.path)
        #expect(run.status == 0 && run.stdout.contains("2 cached, 1 restored"), "\(run)")
        #expect(try dir.read("gen/b.txt") == "ALPHA\nALPHA\n")
    }

    /// A snapshot cut short, or of the version before the reverse index, restricts nothing.
    @Test func damagedOrOldSnapshotMeansAFullEvaluation() throws {
        let dir = try chainWorkspace()
        let text = try dir.read(".flow/fresh")
        try overwrite(dir, "src/a.txt", "beta\n")
        try dir.write(".flow/fresh", String(text.dropLast(5)))
        #expect(try status(dir, []).evaluated == 3)
        try dir.write(".flow/fresh", text.replacingOccurrences(of: "flow-fresh v2", with: "flow-fresh v1"))
        let old = try status(dir, [])
        #expect(old.evaluated == 3 && old.mustRun == 2, "\(old.text)")
    }

    struct Status {
        var rows: [[String: String]]
        var mustRun: Int
        var evaluated: Int
        var text: String
    }

    /// `flow status --json`: each step's row as text (state, reasons, sizes), in order.
    func status(_ dir: TemporaryDirectory, _ sets: [String]) throws -> Status {
        let result = try FlowBinary.run(["status", "--json"] + sets, in: dir.path)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result)")
        let steps = object["steps"] as? [[String: Any]] ?? []
        let rows = steps.map { row in row.mapValues { "\($0)" } }
        return Status(rows: rows, mustRun: object["mustRun"] as? Int ?? -1, evaluated: object["evaluated"] as? Int ?? -1,
                      text: result.stdout)
    }

    func randomEdit<G: RandomNumberGenerator>(_ workflow: RandomWorkflow, _ overrides: [String: String], _ dir: TemporaryDirectory,
                                              using rng: inout G) -> Edit {
        let outputs = workflow.instances(overrides: overrides).flatMap(\.outputs).map { $0.hasSuffix("/") ? $0 + "a.txt" : $0 }
            .filter { dir.exists($0) }
        switch Int.random(in: 0..<10, using: &rng) {
        case 0 where !outputs.isEmpty, 4 where !outputs.isEmpty: return .editOutput(outputs.randomElement(using: &rng)!)
        case 5, 6: return .editInPlace(workflow.sources.keys.sorted().randomElement(using: &rng)!)
        case 1:
            let directories = workflow.instances(overrides: overrides).flatMap(\.outputs).compactMap { o -> String? in
                let d = o.hasSuffix("/") ? String(o.dropLast()) : (o.split(separator: "/").dropLast().joined(separator: "/"))
                return d.hasPrefix("gen/") && d.contains("/") ? d : nil
            }
            if let d = directories.randomElement(using: &rng) { return .strayFile(d + "/stray.txt") }
            return .gc
        case 2: return .touch(workflow.sources.keys.sorted().randomElement(using: &rng)!)
        case 3: return .gc
        default: return .workflow(workflow.randomEdit(overrides: overrides, using: &rng))
        }
    }

    /// Writes `text` into the existing file at `path`, keeping its inode and its directory's listing.
    func overwrite(_ dir: TemporaryDirectory, _ path: String, _ text: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: dir.path + "/" + path))
        defer { try? handle.close() }
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(text.utf8))
    }

    func setArguments(_ overrides: [String: String]) -> [String] {
        overrides.sorted { $0.key < $1.key }.flatMap { ["--set", "\($0.key)=\($0.value)"] }
    }

    func write(_ workflow: RandomWorkflow, to dir: TemporaryDirectory) throws {
        try dir.write("flow.dag", workflow.render())
        for (path, text) in workflow.sources where (try? dir.read(path)) != text { try dir.write(path, text) }
    }
}
