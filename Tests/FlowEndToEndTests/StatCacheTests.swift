import Foundation
import FlowTestSupport
import Glibc
import Testing

/// The stat cache (`.flow/state.db`) trusts a digest only while the file's whole signature is
/// unchanged: device, inode, size, mtime and ctime (docs/cache.md, "Keys"). Each test changes
/// an input's content while keeping what a weaker signature would compare (size and mtime), and
/// checks that `flow run` reruns the step. No fresh snapshot is involved: a run that ran steps
/// writes none, so these runs evaluate in full and ask the stat cache.
@Suite struct StatCacheTests {
    static let dag = """
        step upper
          in  src/a.txt
          out build/a.out
          run tr a-z A-Z < {in} > {out}
        """

    /// A built workspace whose input is `alpha\n`, written long enough before the run that the
    /// stat cache keeps its entry (see `age`).
    func workspace() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory("flow-statcache")
        try dir.write("flow.dag", Self.dag)
        try dir.write("src/a.txt", "alpha\n")
        try age(dir.path + "/src/a.txt")
        let run = try FlowBinary.run(["run", "-q"], in: dir.path)
        #expect(run.status == 0, "\(run)")
        #expect(try dir.read("build/a.out") == "ALPHA\n")
        return dir
    }

    /// `stat(2)` of a path, failing the test when it is missing.
    func statOf(_ path: String) throws -> stat {
        var st = stat()
        try #require(stat(path, &st) == 0, "stat \(path): \(String(cString: strerror(errno)))")
        return st
    }

    /// Puts `path` outside flow's racy window (`Workspace.isRacy`): a file changed within 0.1 s
    /// of a run (2 s where time stamps have whole seconds) gets no stat-cache entry, so the next
    /// run hashes it whatever its signature, and a signature that compared only size and mtime
    /// would go unnoticed. Its mtime goes an hour back; its ctime, which only the clock sets,
    /// is waited out.
    func age(_ path: String) throws {
        let st = try statOf(path)
        var times = [st.st_atim, st.st_mtim]
        times[0].tv_sec -= 3600
        times[1].tv_sec -= 3600
        try #require(utimensat(AT_FDCWD, path, &times, 0) == 0, "utimensat: \(String(cString: strerror(errno)))")
        let changed = try statOf(path).st_ctim
        let window = changed.tv_nsec == 0 ? 2.0 : 0.1
        let changedAt = Double(changed.tv_sec) + Double(changed.tv_nsec) / 1e9
        let wait = changedAt + window + 0.2 - Date().timeIntervalSince1970
        if wait > 0 { Thread.sleep(forTimeInterval: wait) }
    }

    /// Sets the access and modification times of `path` to exactly those in `st` (`touch -r`).
    func setTimes(_ path: String, from st: stat) throws {
        var times = [st.st_atim, st.st_mtim]
        try #require(utimensat(AT_FDCWD, path, &times, 0) == 0, "utimensat: \(String(cString: strerror(errno)))")
    }

    /// Runs `flow run` and checks that the step ran and produced `expected`.
    func expectRerun(_ dir: TemporaryDirectory, producing expected: String) throws {
        let status = try FlowBinary.run(["status"], in: dir.path)
        #expect(status.stdout.contains("input changed: src/a.txt"), "\(status)")
        let run = try FlowBinary.run(["run"], in: dir.path)
        #expect(run.status == 0 && run.stdout.contains("1 ran"), "\(run)")
        #expect(try dir.read("build/a.out") == expected)
    }

    @Test func sameSizeAndMtimeInPlaceIsSeen() throws {
        let dir = try workspace()
        let path = dir.path + "/src/a.txt"
        let before = try statOf(path)
        try dir.write("src/a.txt", "omega\n")
        try setTimes(path, from: before)
        let after = try statOf(path)
        // What a size-and-mtime signature sees is unchanged; only ctime tells.
        #expect(after.st_size == before.st_size && after.st_mtim.tv_sec == before.st_mtim.tv_sec
            && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec)
        #expect(after.st_ino == before.st_ino)
        try expectRerun(dir, producing: "OMEGA\n")
    }

    @Test func replacedThroughARenameIsSeen() throws {
        let dir = try workspace()
        let path = dir.path + "/src/a.txt"
        let before = try statOf(path)
        // An editor's save: write a new file beside it, give it the old times, rename it over.
        try dir.write("src/.a.txt.swp", "gamma\n")
        try setTimes(dir.path + "/src/.a.txt.swp", from: before)
        try #require(rename(dir.path + "/src/.a.txt.swp", path) == 0)
        let after = try statOf(path)
        #expect(after.st_size == before.st_size && after.st_mtim.tv_sec == before.st_mtim.tv_sec
            && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec)
        #expect(after.st_ino != before.st_ino)
        try expectRerun(dir, producing: "GAMMA\n")
    }

    @Test func sameContentWithNewTimesRerunsNothing() throws {
        // The other side of the same rule: a new signature only means "hash it again".
        let dir = try workspace()
        let path = dir.path + "/src/a.txt"
        try dir.write("src/.a.txt.swp", "alpha\n")
        try #require(rename(dir.path + "/src/.a.txt.swp", path) == 0)
        let run = try FlowBinary.run(["run"], in: dir.path)
        #expect(run.status == 0 && run.stdout.contains("1 cached"), "\(run)")
    }
}
