import FlowTestSupport
import Glibc
import Testing

/// The shell that starts the tests' daemons (Slurm, nginx) hands them none of the test
/// process's descriptors: a daemon that kept one kept, among others, the socket by which
/// Foundation's `Process` learns that a child has exited, and a test waiting for that child hung.
@Suite struct CleanShellTests {
    @Test func theShellGetsNoDescriptorBeyondTheStandardThree() throws {
        let fd = open("/dev/null", O_RDONLY) // not close-on-exec: a child would inherit it
        #expect(fd > 2)
        defer { close(fd) }
        let status = CleanShell.run("test ! -e /proc/$$/fd/\(fd)")
        #expect(status == 0, "descriptor \(fd) reached the shell (wait status \(status))")
    }
}
