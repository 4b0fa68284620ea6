import Foundation
import FlowTestSupport
import Glibc
import Testing
@testable import FlowRuntime

/// The one atomic write: a failure injected at each system call leaves the destination as it
/// was, no temporary behind, and an error naming the destination. Serialized: the seam is global.
@Suite(.serialized) struct AtomicFileTests {
    enum Step: String, CaseIterable { case open, write, shortWrite, fsync, close, rename }

    /// Runs `body` with the system call of `step` failing with `code` (a short write first
    /// writes one byte, then fails).
    func failing(_ step: Step, _ code: Int32, _ body: () throws -> Void) rethrows {
        let saved = AtomicFile.calls
        defer { AtomicFile.calls = saved }
        var calls = saved
        switch step {
        case .open: calls.open = { _, _, _ in errno = code; return -1 }
        case .write: calls.write = { _, _, _ in errno = code; return -1 }
        case .shortWrite:
            var first = true
            calls.write = { fd, p, n in
                if first { first = false; return Glibc.write(fd, p, 1) }
                errno = code
                return -1
            }
        case .fsync: calls.fsync = { _ in errno = code; return -1 }
        case .close: calls.close = { fd in Glibc.close(fd); errno = code; return -1 }
        case .rename: calls.rename = { _, _ in errno = code; return -1 }
        }
        AtomicFile.calls = calls
        try body()
    }

    @Test(arguments: Step.allCases)
    func aFailureAtAnyStepLeavesTheOldFileAndNoTemporary(step: Step) throws {
        let dir = TemporaryDirectory("flow-atomic")
        let path = dir.path + "/manifest"
        try AtomicFile.write(Array("old\n".utf8), to: path, durable: true)
        failing(step, ENOSPC) {
            #expect(throws: SystemError.self) {
                try AtomicFile.write(Array(repeating: 65, count: 10_000), to: path, durable: true)
            }
            do {
                try AtomicFile.write(Array("new\n".utf8), to: path, durable: true)
                Issue.record("no error with \(step) failing")
            } catch let e as SystemError {
                #expect(e.path == path, "the error names the destination: \(e)")
                #expect(e.isDiskFull, "\(e)")
            } catch {
                Issue.record("\(error)")
            }
        }
        #expect(try dir.read("manifest") == "old\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["manifest"], "a temporary was left behind")
    }

    @Test func interruptedWritesAreRetriedAndShortWritesContinued() throws {
        let dir = TemporaryDirectory("flow-atomic")
        let saved = AtomicFile.calls
        defer { AtomicFile.calls = saved }
        var calls = saved
        var n = 0
        calls.write = { fd, p, count in
            n += 1
            if n % 3 == 1 { errno = EINTR; return -1 }
            return Glibc.write(fd, p, min(count, 7))
        }
        AtomicFile.calls = calls
        let bytes = (0..<1000).map { UInt8($0 % 251) }
        try AtomicFile.write(bytes, to: dir.path + "/f", temporaryDirectory: dir.path)
        #expect(Array(try dir.readData("f")) == bytes)
    }
}
