import Foundation
import FlowTestSupport
import Testing

/// The workflow memo (`.flow/memo/`) as commands use it: a command on an unchanged workflow
/// decodes the memo (the file stays as it is), and any change writes a new one (a new file,
/// so a new inode); what the commands say is the same either way.
@Suite struct WorkflowMemoCommandTests {
    static let dag = """
        step a[f in src/*.txt]
          in  {f}
          out build/{f.stem}.out
          env FLOW_TEST_MODE
          run tr a-z A-Z < {f} > {out}; echo "$FLOW_TEST_MODE" >> {out}; sh helper.sh
        step all
          in  a[*]
          out all.txt
          run cat {in} > {out}
        """

    func workspace() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory("flow-memo-cli")
        try dir.write("flow.dag", Self.dag)
        try dir.write("helper.sh", "true\n")
        try dir.write("src/a.txt", "alpha\n")
        try dir.write("src/b.txt", "beta\n")
        return dir
    }

    /// The memo's inode, nil when there is none (exactly one memo is expected).
    func memoInode(_ dir: TemporaryDirectory) throws -> Int? {
        let memo = dir.path + "/.flow/memo"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: memo)) ?? []
        try #require(names.count <= 1, "one memo per .dag: \(names)")
        guard let name = names.first else { return nil }
        return try FileManager.default.attributesOfItem(atPath: memo + "/" + name)[.systemFileNumber] as? Int
    }

    /// `flow status`, after the fresh snapshot is removed (which would answer without a load).
    func status(_ dir: TemporaryDirectory, _ extra: [String] = [], mode: String = "x", flow: String? = nil) throws -> ProcessResult {
        try? FileManager.default.removeItem(atPath: dir.path + "/.flow/fresh")
        let args = ["status", "-a"] + extra
        let env = ["FLOW_TEST_MODE": mode]
        return try flow.map { try FlowBinary.runProgram($0, args, in: dir.path, environment: env) } ?? FlowBinary.run(args, in: dir.path, environment: env)
    }

    @Test func anUnchangedWorkflowIsNotLoadedAgainAndItsWarningsStillPrint() throws {
        let dir = try workspace()
        let first = try status(dir)
        #expect(first.status == 0 && first.stdout.contains("3 steps"), "\(first)")
        #expect(first.stderr.contains("flow.dag:5:") && first.stderr.contains("warning: step 'a' runs with 'helper.sh'"), "\(first)")
        let inode = try #require(try memoInode(dir), "a load writes the memo")
        let second = try status(dir)
        #expect(try memoInode(dir) == inode, "an unchanged workflow is decoded from the memo")
        #expect(second.stdout == first.stdout && second.stderr == first.stderr, "\(second)")
        let run = try FlowBinary.run(["run", "-q"], in: dir.path, environment: ["FLOW_TEST_MODE": "x"])
        #expect(run.status == 0 && run.stderr.contains("helper.sh"), "\(run)")
        #expect(try memoInode(dir) == inode)

        // A change of the .dag: the new step is there, and a new memo with it.
        try dir.write("flow.dag", Self.dag + "\nstep more\n  out more.txt\n  run echo > {out}\n")
        let edited = try status(dir)
        #expect(edited.stdout.contains("more") && edited.stdout.contains("4 steps"), "\(edited)")
        #expect(try memoInode(dir) != inode)
    }

    @Test func aFileAddedWhereAGlobLooksIsSeen() throws {
        let dir = try workspace()
        _ = try status(dir)
        let inode = try memoInode(dir)
        try dir.write("src/c.txt", "gamma\n")
        let added = try status(dir)
        #expect(added.stdout.contains("a[src/c.txt]") && added.stdout.contains("4 steps"), "\(added)")
        #expect(try memoInode(dir) != inode)
    }

    /// A variable a step passes through enters its key: a memo that kept the old value would
    /// call the step fresh.
    @Test func aPassThroughVariableChangedIsSeen() throws {
        let dir = try workspace()
        let run = try FlowBinary.run(["run", "-q"], in: dir.path, environment: ["FLOW_TEST_MODE": "x"])
        #expect(run.status == 0, "\(run)")
        let inode = try memoInode(dir)
        #expect(try status(dir, ["--check"]).status == 0)
        let changed = try status(dir, ["--check"], mode: "y")
        #expect(changed.status != 0 && changed.stdout.contains("env FLOW_TEST_MODE changed x → y"), "\(changed)")
        #expect(try memoInode(dir) != inode)
    }

    /// `--set` values are part of the memo, and another binary (here, a copy: another inode)
    /// never trusts a memo it did not write.
    @Test func anotherBinaryOrSetIsAMiss() throws {
        let dir = try workspace()
        try dir.write("flow.dag", "let tag = one\n" + Self.dag.replacingOccurrences(of: "cat {in}", with: "echo {tag}; cat {in}"))
        _ = try status(dir)
        let inode = try memoInode(dir)
        let set = try status(dir, ["--set", "tag=two"])
        #expect(set.status == 0, "\(set)")
        let afterSet = try memoInode(dir)
        #expect(afterSet != inode)
        let copy = TemporaryDirectory("flow-memo-bin")
        try FileManager.default.copyItem(atPath: FlowBinary.path, toPath: copy.path + "/flow")
        let other = try status(dir, ["--set", "tag=two"], flow: copy.path + "/flow")
        #expect(other.status == 0 && other.stdout == set.stdout, "\(other)")
        #expect(try memoInode(dir) != afterSet, "a binary of another inode loads again")
    }

    /// A damaged memo is ignored and replaced; a .dag with errors is reported with its location
    /// every time, and never kept.
    @Test func damagedMemosAndErrors() throws {
        let dir = try workspace()
        let good = try status(dir)
        let memo = dir.path + "/.flow/memo/" + (try FileManager.default.contentsOfDirectory(atPath: dir.path + "/.flow/memo")[0])
        try Data("flow-memo v1\ngarbage".utf8).write(to: URL(fileURLWithPath: memo))
        let damaged = try status(dir)
        #expect(damaged.stdout == good.stdout, "\(damaged)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: memo)).count > 100, "the damaged memo is replaced")

        try dir.write("flow.dag", Self.dag.replacingOccurrences(of: "out all.txt", with: "out all.txt\n  cpus many"))
        for _ in 0..<2 {
            let broken = try status(dir)
            #expect(broken.status == 65 && broken.stderr.contains("flow.dag:9:8: error: 'cpus' needs a whole number"), "\(broken)")
        }
        try dir.write("flow.dag", Self.dag)
        #expect(try status(dir).stdout == good.stdout)
    }
}
