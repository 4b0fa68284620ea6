import Foundation
import FlowTestSupport
import Testing

/// The remote cache against a real nginx (WebDAV PUT) on 127.0.0.1: "machines" are workspaces
/// with separate local caches that share only the remote. Each test has its own prefix on the
/// server. Faults go through `FaultProxy` in front of nginx.
@Suite struct RemoteCacheTests {
    /// A big incompressible file, a small compressible one (stored LZ4 locally, plain remotely),
    /// a directory output, and a step that reads it.
    static let dag = """
        step gen
          out data/big.bin
          out data/text.txt
          run head -c 3000000 /dev/urandom > data/big.bin; seq 1 20000 > data/text.txt
        step split
          in data/text.txt
          out parts/
          run mkdir -p parts; split -l 5000 data/text.txt parts/p-
        step count
          in parts/
          out counts.txt
          run cat parts/* | wc -l | tr -d ' ' > counts.txt
        """

    func machine() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory("flow-remote")
        try dir.write("flow.dag", Self.dag)
        return dir
    }

    /// A prefix of the server of its own.
    func remote(_ server: TestNginx.Server, under base: String? = nil) -> (url: String, directory: String) {
        let name = "t-" + UUID().uuidString.prefix(8).lowercased()
        return ((base ?? server.url) + "/" + name, server.root + "/" + name)
    }

    /// The files the server holds under `directory/kind` (`cas` or `ac`).
    func stored(_ directory: String, _ kind: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory + "/" + kind)) ?? []).sorted()
    }

    func outputs(_ dir: TemporaryDirectory) throws -> [String: Data] {
        var result: [String: Data] = [:]
        for path in ["data/big.bin", "data/text.txt", "counts.txt"] { result[path] = try dir.readData(path) }
        for part in try FileManager.default.contentsOfDirectory(atPath: dir.path + "/parts") { result["parts/" + part] = try dir.readData("parts/" + part) }
        return result
    }

    @Test func twoMachinesSharingOnlyTheRemoteComputeOnce() throws {
        let server = try TestNginx.require()
        let (url, _) = remote(server)
        let a = try machine(), b = try machine()
        let first = try FlowBinary.run(["run", "--remote", url, "--remote-write"], in: a.path)
        #expect(first.status == 0 && first.stdout.contains("uploaded 3 results to the remote cache"), "\(first)")

        let status = try FlowBinary.run(["status", "--remote", url], in: b.path)
        #expect(status.stdout.contains("3 from the remote cache"), "\(status)")
        let second = try FlowBinary.run(["run", "--remote", url], in: b.path)
        #expect(second.status == 0 && second.stdout.contains("3 restored") && !second.stdout.contains(" ran "), "\(second)")
        #expect(try outputs(b) == outputs(a), "outputs differ between the machines")
        let verify = try FlowBinary.run(["verify"], in: b.path)
        #expect(verify.status == 0 && verify.stdout.contains("all good"), "\(verify)")
        // Nothing stale: the remote is not asked, and nothing is uploaded.
        let again = try FlowBinary.run(["run", "--remote", "http://127.0.0.1:1/nothing-listens"], in: b.path)
        #expect(again.status == 0 && !again.stderr.contains("remote cache"), "\(again)")
    }

    @Test func readOnlyIsTheDefaultAndUploadsNothing() throws {
        let server = try TestNginx.require()
        let (url, directory) = remote(server)
        let a = try machine()
        let r = try FlowBinary.run(["run", "--remote", url], in: a.path)
        #expect(r.status == 0, "\(r)")
        #expect(stored(directory, "cas").isEmpty && stored(directory, "ac").isEmpty, "a read-only run uploaded")
        // flow.config says where the remote is and that this workspace writes.
        try a.write("flow.config", "remote \(url)   # the team's cache\nremote-mode read-write\n")
        try a.write("flow.dag", Self.dag + "\nstep extra\n  in counts.txt\n  out extra.txt\n  run cp counts.txt extra.txt\n")
        let w = try FlowBinary.run(["run"], in: a.path)
        #expect(w.status == 0 && w.stdout.contains("uploaded 1 result to the remote cache"), "\(w)")
        #expect(stored(directory, "ac").count == 1)
    }

    @Test func aMisspeltConfigurationSettingIsAnErrorAtItsPlace() throws {
        let a = try machine()
        try a.write("flow.config", "remote http://127.0.0.1:1/x\nremote-mod read-write\n")
        let r = try FlowBinary.run(["run"], in: a.path)
        #expect(r.status == 65 && r.stderr.contains("flow.config:2:1: error: unknown setting 'remote-mod'; did you mean 'remote-mode'?"), "\(r)")
    }

    @Test func pushAndPullMoveExactlyTheNamedSteps() throws {
        let server = try TestNginx.require()
        let (url, directory) = remote(server)
        let a = try machine(), b = try machine()
        #expect(try FlowBinary.run(["run", "-q"], in: a.path).status == 0)
        let push = try FlowBinary.run(["push", "gen", "--remote", url], in: a.path)
        #expect(push.status == 0 && push.stdout.contains("pushed 1 of 1 result: 2 objects"), "\(push)")
        #expect(stored(directory, "ac").count == 1, "\(stored(directory, "ac"))")
        #expect(stored(directory, "cas").count == 2, "gen's two outputs (its empty log is in its manifest): \(stored(directory, "cas"))")

        let pushAll = try FlowBinary.run(["push", "--remote", url], in: a.path)
        #expect(pushAll.status == 0 && pushAll.stdout.contains("pushed 3 of 3 results"), "\(pushAll)")
        let pull = try FlowBinary.run(["pull", "count", "--remote", url], in: b.path)
        #expect(pull.status == 0 && pull.stdout.contains("pulled 1 result"), "\(pull)")
        #expect(try b.read("counts.txt") == "20000\n")
        #expect(!b.exists("parts") && !b.exists("data/big.bin"), "pull brought more than the step named")
        // Its key comes from the remote's results of gen and split, which stay there.
        let status = try FlowBinary.run(["status", "--remote", url], in: b.path)
        #expect(status.stdout.contains("count  fresh") && status.stdout.contains("gen    remote"), "\(status)")
    }

    /// A result with a large output (an object) and small ones (inside the manifest): only the
    /// object goes to `cas/`, and the manifest brings the small ones back on the other machine.
    @Test func smallOutputsTravelInsideTheirManifest() throws {
        let server = try TestNginx.require()
        let (url, directory) = remote(server)
        let dag = """
            step mixed
              out big.bin
              out small.txt
              out tool.sh
              run head -c 100000 /dev/urandom > big.bin; echo small > small.txt; printf '#!/bin/sh\\necho tool\\n' > tool.sh; chmod +x tool.sh; echo log
            """
        let a = TemporaryDirectory("flow-remote"), b = TemporaryDirectory("flow-remote")
        try a.write("flow.dag", dag)
        try b.write("flow.dag", dag)
        #expect(try FlowBinary.run(["run", "-q"], in: a.path).status == 0)
        let push = try FlowBinary.run(["push", "--remote", url], in: a.path)
        #expect(push.status == 0 && push.stdout.contains("pushed 1 of 1 result: 1 object"), "\(push)")
        let bigDigest = try #require(FlowBinary.run(["hash", "big.bin"], in: a.path).stdout.split(separator: " ").first)
        #expect(stored(directory, "cas") == [String(bigDigest)], "only the large output is an object: \(stored(directory, "cas"))")

        let pull = try FlowBinary.run(["pull", "--remote", url], in: b.path)
        #expect(pull.status == 0 && pull.stdout.contains("pulled 1 result"), "\(pull)")
        for path in ["big.bin", "small.txt", "tool.sh"] { #expect(try b.readData(path) == a.readData(path), "\(path)") }
        #expect(FileManager.default.isExecutableFile(atPath: b.path + "/tool.sh"))
        let verify = try FlowBinary.run(["verify"], in: b.path)
        #expect(verify.status == 0 && verify.stdout.contains("verified 1 objects") && verify.stdout.contains("(3 files inside them)"), "\(verify)")

        // A remote hit in `flow run` on a third machine brings back the same.
        let c = TemporaryDirectory("flow-remote")
        try c.write("flow.dag", dag)
        let hit = try FlowBinary.run(["run", "--remote", url], in: c.path)
        #expect(hit.status == 0 && hit.stdout.contains("1 restored"), "\(hit)")
        #expect(try c.read("small.txt") == "small\n" && c.readData("big.bin") == a.readData("big.bin"))
        let log = try FlowBinary.run(["log", "mixed"], in: c.path)
        #expect(log.stdout == "log\n" && log.stderr.contains("from the cache"), "the log came inside the manifest: \(log)")
    }

    @Test(arguments: [FaultProxy.Fault.status500, .dropMidBody, .stall(seconds: 3), .flipByte, .closeAtOnce])
    func aFailingRemoteNeverCostsAResultNorCorruptsTheCache(_ fault: FaultProxy.Fault) throws {
        let server = try TestNginx.require()
        let (url, directory) = remote(server)
        let a = try machine()
        #expect(try FlowBinary.run(["run", "-q", "--remote", url, "--remote-write"], in: a.path).status == 0)
        let proxy = try FaultProxy(upstreamPort: server.port)
        defer { proxy.stop() }
        proxy.mode = fault
        let proxied = proxy.url + "/" + (directory as NSString).lastPathComponent
        let environment = ["FLOW_REMOTE_TIMEOUT": "1", "FLOW_REMOTE_RETRIES": "1"]

        // Fetching through the fault: every step still ends with its right result.
        let b = try machine()
        let r = try FlowBinary.run(["run", "--remote", proxied], in: b.path, environment: environment)
        #expect(r.status == 0, "\(r)")
        #expect(try b.read("counts.txt") == "20000\n")
        #expect(try b.readData("data/text.txt") == a.readData("data/text.txt"))
        #expect(r.stderr.components(separatedBy: "remote cache:").count == 2, "the failure was not reported exactly once: \(r)")
        let verify = try FlowBinary.run(["verify"], in: b.path)
        #expect(verify.status == 0 && verify.stdout.contains("all good"), "\(verify)")

        // Uploading through the fault: what could not go is uploaded by the next run that writes.
        let c = try machine()
        try c.write("flow.dag", Self.dag + "\nstep more\n  in counts.txt\n  out more.txt\n  run cp counts.txt more.txt\n")
        let upload = try FlowBinary.run(["run", "--remote", proxied, "--remote-write"], in: c.path, environment: environment)
        #expect(upload.status == 0, "\(upload)")
        proxy.mode = .none
        let later = try FlowBinary.run(["run", "--remote", proxied, "--remote-write"], in: c.path, environment: environment)
        #expect(later.status == 0, "\(later)")
        let d = try machine()
        try d.write("flow.dag", Self.dag + "\nstep more\n  in counts.txt\n  out more.txt\n  run cp counts.txt more.txt\n")
        let fromRemote = try FlowBinary.run(["run", "--remote", url], in: d.path)
        #expect(fromRemote.stdout.contains("4 restored"), "the uploads were not completed: \(upload)\n\(later)\n\(fromRemote)")
    }

    @Test func aRemoteThatDemandsATokenGetsItAndOnlyOverHTTPWhenAllowed() throws {
        let server = try TestNginx.require()
        let (url, directory) = remote(server, under: server.url + "/secure")
        let a = try machine()
        let token = ["FLOW_REMOTE_TOKEN": server.token]
        let refused = try FlowBinary.run(["run", "--remote", url, "--remote-write"], in: a.path, environment: token)
        #expect(refused.status != 0 && refused.stderr.contains("use https://") && !refused.stderr.contains(server.token), "\(refused)")
        let denied = try FlowBinary.run(["run", "--remote", url, "--remote-write", "--remote-allow-http"], in: a.path)
        #expect(denied.status == 0 && denied.stderr.contains("401"), "without the token: a warning, and the run goes on: \(denied)")
        #expect(denied.stderr.components(separatedBy: "remote cache:").count == 2, "said once: \(denied)")
        let b = try machine()
        let allowed = try FlowBinary.run(["run", "--remote", url, "--remote-write", "--remote-allow-http"], in: b.path, environment: token)
        #expect(allowed.status == 0 && allowed.stdout.contains("uploaded 3 results"), "\(allowed)")
        #expect(!allowed.stdout.contains(server.token) && !allowed.stderr.contains(server.token))
        let secureDirectory = server.root + "/secure/" + (directory as NSString).lastPathComponent
        #expect(stored(secureDirectory, "ac").count == 3, "\(secureDirectory)")
    }
}
