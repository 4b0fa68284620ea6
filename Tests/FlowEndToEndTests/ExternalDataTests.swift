import Foundation
import FlowTestSupport
import Testing

/// Data that lives outside the workspace (`external NAME = /ABS/PATH`, docs/dag-language.md):
/// read by content like any input, shown by status and explain, never written or removed.
@Suite struct ExternalDataTests {
    /// A data set outside the workspace: `train/` with `count` small files, and `labels.txt`.
    func dataSet(files count: Int = 200) throws -> TemporaryDirectory {
        let data = TemporaryDirectory("flow-external-data")
        for i in 0..<count { try data.write("train/\(i / 100)/img-\(i).txt", "image \(i)\n") }
        try data.write("labels.txt", "cat\ndog\n")
        return data
    }

    /// The path as flow shows it (normalized: a temporary directory may come with a `//`).
    func shown(_ data: TemporaryDirectory) -> String {
        URL(fileURLWithPath: data.path).standardizedFileURL.path
    }

    func workspace(reading data: TemporaryDirectory) throws -> TemporaryDirectory {
        let dir = TemporaryDirectory("flow-external")
        try dir.write("flow.dag", """
            external imagenet = \(data.path)
            step count
              in {imagenet}/train/
              in labels = {imagenet}/labels.txt
              out n.txt
              run find {imagenet}/train -type f | wc -l > {out}; cat {in.labels} >> {out}
            step report
              in n.txt
              out report.txt
              run cp {in} {out}
            """)
        return dir
    }

    /// Every file under `root` with its content: what flow must leave as it was.
    func contents(_ root: String) throws -> [String: String] {
        var result: [String: String] = [:]
        let e = FileManager.default.enumerator(atPath: root)
        while let rel = e?.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + rel, isDirectory: &isDir), !isDir.boolValue {
                result[rel] = try String(contentsOfFile: root + "/" + rel, encoding: .utf8)
            }
        }
        return result
    }

    @Test func anAbsoluteInputIsRefusedAndTheErrorNamesTheExplicitForm() throws {
        let (r, _) = try FlowBinary.load("step s\n  in /datasets/imagenet/train/\n  out o\n  run true\n")
        #expect(r.status == 65, "\(r)")
        #expect(r.stderr.contains("'/datasets/imagenet/train/' escapes the workspace"), "\(r)")
        #expect(r.stderr.contains("'external data = /datasets/imagenet/train', and read it as 'in {data}'"), "\(r)")
    }

    @Test func externalDataIsTrackedByContentShownAndNeverTouched() throws {
        let data = try dataSet()
        let dir = try workspace(reading: data)
        let before = try contents(data.path)

        let first = try FlowBinary.run(["run"], in: dir.path)
        #expect(first.status == 0 && first.stdout.contains("2 ran"), "\(first)")
        #expect(try dir.read("n.txt") == "200\ncat\ndog\n")

        let status = try FlowBinary.run(["status"], in: dir.path)
        #expect(status.stdout.contains("external imagenet = \(shown(data)) (read-only"), "\(status)")
        #expect(status.stdout.contains("2 fresh"), "\(status)")
        // The no-op path (answered from the fresh snapshot) shows it too.
        let again = try FlowBinary.run(["status", "--json"], in: dir.path)
        #expect(again.stdout.contains("\"name\" : \"imagenet\""), "\(again)")
        // The no-op answer comes from the snapshot, which holds the external files' signatures:
        // it needs no state (a full evaluation would open, and so create, .flow/state.db).
        usleep(200_000)
        _ = try FlowBinary.run(["status"], in: dir.path)
        try FileManager.default.moveItem(atPath: dir.path + "/.flow/state.db", toPath: dir.path + "/state.db.aside")
        let fast = try FlowBinary.run(["status"], in: dir.path)
        #expect(fast.stdout.contains("2 fresh") && !dir.exists(".flow/state.db"), "the fresh snapshot did not hold: \(fast)")
        try? FileManager.default.removeItem(atPath: dir.path + "/.flow/state.db")
        try FileManager.default.moveItem(atPath: dir.path + "/state.db.aside", toPath: dir.path + "/.flow/state.db")
        let explain = try FlowBinary.run(["explain", "count"], in: dir.path)
        #expect(explain.stdout.contains("\(shown(data))/train  (external imagenet, read-only)"), "\(explain)")

        // A file rewritten in place, same size: the step that reads the directory is stale, by name.
        try data.write("train/1/img-150.txt", "IMAGE 150\n")
        let stale = try FlowBinary.run(["status"], in: dir.path)
        #expect(stale.stdout.contains("input changed: \(shown(data))/train"), "\(stale)")
        let rerun = try FlowBinary.run(["run"], in: dir.path)
        #expect(rerun.status == 0 && rerun.stdout.contains("1 ran"), "the report's input did not change: \(rerun)")

        // Clean, restore, and a step that leaves the workflow: nothing under the root moves.
        let changed = try contents(data.path)
        #expect(changed.count == before.count)
        #expect(try FlowBinary.run(["clean"], in: dir.path).status == 0)
        let restore = try FlowBinary.run(["run"], in: dir.path)
        #expect(restore.status == 0 && restore.stdout.contains("restored"), "\(restore)")
        try dir.write("flow.dag", "external imagenet = \(data.path)\nstep other\n  in {imagenet}/labels.txt\n  out o.txt\n  run cp {in} {out}\n")
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        #expect(try contents(data.path) == changed)
    }

    @Test func anOutputUnderExternalDataIsAnError() throws {
        let data = try dataSet(files: 1)
        let (r, dir) = try FlowBinary.load("external d = \(data.path)\nstep s\n  out {d}/cache.npy\n  run touch {out}\n", ["run"])
        #expect(r.status == 65, "\(r)")
        #expect(r.stderr.contains("output '\(shown(data))/cache.npy' is inside external data 'd' (\(shown(data))): flow never writes there"), "\(r)")
        #expect(!FileManager.default.fileExists(atPath: data.path + "/cache.npy"))
        _ = dir
    }

    @Test func aGlobAndAFanOutOverExternalFiles() throws {
        let data = try dataSet(files: 3)
        let dir = TemporaryDirectory("flow-external")
        try dir.write("flow.dag", """
            external d = \(data.path)
            step copy[f in {d}/train/0/*.txt]
              out copies/{f.name}
              run cp {f} {out}
            step all
              in {d}/train/0/*.txt
              out all.txt
              run cat {in} > {out}
            """)
        let r = try FlowBinary.run(["run"], in: dir.path)
        #expect(r.status == 0 && r.stdout.contains("4 ran"), "\(r)")
        #expect(try dir.read("copies/img-2.txt") == "image 2\n")
        #expect(try dir.read("all.txt") == "image 0\nimage 1\nimage 2\n")
        try data.write("train/0/img-1.txt", "changed\n")
        let status = try FlowBinary.run(["status"], in: dir.path)
        #expect(status.stdout.contains("input changed: \(shown(data))/train/0/img-1.txt"), "\(status)")
    }

    @Test func aDirectoryOfManyFilesHashesInParallelToTheSerialDigest() throws {
        // More files than are hashed on one thread: the digest is `flow hash`'s, file by file.
        let data = try dataSet(files: 700)
        let dir = TemporaryDirectory("flow-external")
        try dir.write("flow.dag", "external d = \(data.path)\nstep n\n  in {d}/train/\n  out n.txt\n  run find {d}/train -type f | wc -l > {out}\n")
        let serial = try FlowBinary.run(["hash", data.path + "/train"], in: dir.path)
        let digest = try #require(serial.stdout.split(separator: " ").first.map { String($0.prefix(12)) }, "\(serial)")
        let explain = try FlowBinary.run(["explain", "n"], in: dir.path)
        #expect(explain.stdout.contains("\(digest)  \(shown(data))/train  (external d"), "\(serial)\n\(explain)")
        #expect(try FlowBinary.run(["run", "-q"], in: dir.path).status == 0)
        #expect(try dir.read("n.txt") == "700\n")
    }
}
