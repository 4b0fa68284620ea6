import Foundation
import FlowTestSupport
import Testing

/// Hostile or mistaken input gets a clear error at bounded memory, never a crash: doubling
/// variables, huge or overflowing fan-outs, deep includes, odd bytes in a .dag, huge shapes and
/// shard entries, names that do not fit a file name.
@Suite struct LimitsTests {
    /// Runs flow under a 3 GiB address-space limit, so that a regression fails instead of
    /// exhausting the machine.
    func bounded(_ args: [String], in dir: TemporaryDirectory, environment: [String: String] = [:]) throws -> ProcessResult {
        let quoted = ([FlowBinary.path] + args).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        return try FlowBinary.runProgram("/bin/sh", ["-c", "ulimit -v 3145728; exec \(quoted)"], in: dir.path, environment: environment)
    }

    /// `let a0` of 16 bytes and `let aN = {aN-1}{aN-1}` up to `a<last>`: 16 * 2^last bytes.
    static func doublingLets(upTo last: Int) -> String {
        var dag = "let a0 = xxxxxxxxxxxxxxxx\n"
        for i in 1...last { dag += "let a\(i) = {a\(i - 1)}{a\(i - 1)}\n" }
        return dag
    }

    @Test func variablesThatDoubleEachOtherAreAnErrorNotAnExhaustedMachine() throws {
        let dir = TemporaryDirectory("flow-limits")
        let dag = Self.doublingLets(upTo: 39) + "step s\n  out o.txt\n  run echo hi > {out}\n"
        try dir.write("flow.dag", dag)
        let r = try bounded(["status"], in: dir)
        #expect(r.status == 65, "\(r.status) \(r.stderr.prefix(2000))")
        #expect(r.stderr.contains("expands to more than"), "\(r.stderr.prefix(2000))")
        #expect(r.stderr.count < 100_000)
    }

    @Test func aLongValueRepeatedByAFanOutIsAnErrorNotAnExhaustedMachine() throws {
        let dir = TemporaryDirectory("flow-limits")
        // Each value is under the 1 MiB limit (512 KiB), but 10,000 instances would make 5 GB.
        let dag = Self.doublingLets(upTo: 15) + "step s[i in 0..<10000]\n  out o/{i}\n  run echo {a15} > {out}\n"
        try dir.write("flow.dag", dag)
        let start = Date()
        let r = try bounded(["status"], in: dir)
        #expect(r.status == 65, "\(r.status) \(r.stderr.prefix(2000))")
        #expect(r.stderr.contains("flow.dag:19:7: error:") && r.stderr.contains("more than 256 MiB"), "\(r.stderr.prefix(2000))")
        #expect(r.stderr.count < 100_000)
        #expect(Date().timeIntervalSince(start) < 60)
    }

    @Test func theStepInstancesOfAWorkflowAreBounded() throws {
        let dir = TemporaryDirectory("flow-limits")
        try dir.write("flow.dag", """
            step a[i in 0..<10]
              out a/{i}
              run true
            step b[i in 0..<999995]
              out b/{i}
              run true
            """)
        let r = try bounded(["status"], in: dir)
        #expect(r.status == 65, "\(r.status) \(r.stderr.prefix(2000))")
        #expect(r.stderr.contains("flow.dag:4:") && r.stderr.contains("more than the 1000000 step instances"), "\(r.stderr.prefix(2000))")
    }

    @Test(arguments: ["0...9223372036854775807", "-9223372036854775808..<9223372036854775807", "0...{n}"])
    func aRangeThatWouldOverflowIsAnError(range: String) throws {
        let dir = TemporaryDirectory("flow-limits")
        try dir.write("flow.dag", "let n = 3\nstep s[i in \(range)]\n  out o/{i}\n  run true\n")
        let r = try bounded(["status", "--set", "n=9223372036854775807"], in: dir)
        #expect(r.status == 65, "\(r)")
        #expect(r.stderr.contains("step instances a workflow may have"), "\(r)")
    }

    @Test func aDeepIncludeChainIsAnError() throws {
        let dir = TemporaryDirectory("flow-limits")
        for i in 0..<10_000 { try dir.write("inc/\(i).dag", "include inc/\(i + 1).dag\n") }
        try dir.write("flow.dag", "include inc/0.dag\nstep s\n  out o\n  run true\n")
        let r = try bounded(["status"], in: dir)
        #expect(r.status == 65, "\(r.status) \(r.stderr.prefix(500))")
        #expect(r.stderr.contains("includes nest more than 64 deep"), "\(r.stderr.prefix(500))")
    }

    @Test func aNulByteInADagIsAnError() throws {
        let dir = TemporaryDirectory("flow-limits")
        try dir.write("flow.dag", Data("step s\n  out o.txt\n  run echo hi > o.txt\0; touch pwned\n".utf8))
        let r = try FlowBinary.run(["run"], in: dir.path)
        #expect(r.status == 65, "\(r)")
        #expect(r.stderr.contains("flow.dag:3:") && r.stderr.contains("NUL"), "\(r)")
    }

    @Test func aDagWithWindowsLineEndingsWorks() throws {
        let dir = TemporaryDirectory("flow-limits")
        try dir.write("flow.dag", "let v = 1\r\nstep s\r\n  out o.txt\r\n  run echo {v} > {out}\r\n")
        let r = try FlowBinary.run(["run"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        #expect(try dir.read("o.txt") == "1\n")
    }

    @Test func stepsWhoseNamesLookAlikeKeepTheirOwnLogs() throws {
        let dir = TemporaryDirectory("flow-limits")
        let long = String(repeating: "x", count: 250)
        try dir.write("flow.dag", """
            step s[i in 1...1]
              out a.txt
              run echo from-s-1; echo > {out}
            step s_1_
              out b.txt
              run echo from-s_1_; echo > {out}
            step \(long)
              out c.txt
              run echo from-long; echo > {out}
            """)
        let r = try FlowBinary.run(["run"], in: dir.path)
        #expect(r.status == 0, "\(r)")
        #expect(try FlowBinary.run(["log", "s[1]"], in: dir.path).stdout == "from-s-1\n")
        #expect(try FlowBinary.run(["log", "s_1_"], in: dir.path).stdout == "from-s_1_\n")
        #expect(try FlowBinary.run(["log", long], in: dir.path).stdout == "from-long\n")
    }

    @Test func anEmptyArrayWithAHugeRowIsRefusedNotACrash() throws {
        let dir = TemporaryDirectory("flow-limits")
        // A valid .npy header of shape (0, 2**63 - 1), float32, and no data.
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 9223372036854775807), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        bytes += [UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)] + Array(header.utf8)
        try dir.write("a.npy", Data(bytes))
        var index = "{'descr': '<i8', 'fortran_order': False, 'shape': (0,), }"
        while (10 + index.utf8.count + 1) % 64 != 0 { index += " " }
        index += "\n"
        let ib: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0] + [UInt8(index.utf8.count), 0] + Array(index.utf8)
        try dir.write("i.npy", Data(ib))
        let r = try FlowBinary.run(["op", "take", "--array", "a.npy", "--index", "i.npy", "--out", "o.npy"], in: dir.path)
        #expect(r.status != 0 && r.status < 128, "\(r)")
        #expect(r.stderr.contains("a.npy") && r.stderr.contains("too large"), "\(r)")
    }

    @Test func aShardEntryClaimingMoreThanTheLimitIsRefusedBeforeItIsRead() throws {
        let dir = TemporaryDirectory("flow-limits")
        try dir.write("src/000.cls", "1")
        try dir.write("src/000.bin", Data(repeating: 7, count: 5000))
        let tar = try FlowBinary.runProgram("tar", ["-cf", "s.tar", "-C", "src", "000.cls", "000.bin"], in: dir.path)
        #expect(tar.status == 0, "\(tar)")
        let r = try FlowBinary.run(["op", "shards", "ls", "s.tar"], in: dir.path, environment: ["FLOW_MAX_SHARD_ENTRY_BYTES": "4096"])
        #expect(r.status != 0 && r.status < 128, "\(r)")
        #expect(r.stderr.contains("claims 5000 bytes") && r.stderr.contains("FLOW_MAX_SHARD_ENTRY_BYTES"), "\(r)")
        #expect(try FlowBinary.run(["op", "shards", "ls", "s.tar"], in: dir.path).status == 0)
    }
}
