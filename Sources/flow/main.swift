import FlowCommands
import Glibc

// OpenBLAS starts a thread per core when it is loaded, before main, and those threads spin for
// about 0.1 s of CPU each waiting for work: a cost every `flow` command would pay, most of which
// never multiply a matrix. Unless the user chose a count, start again with one thread; ops that
// want more ask for them explicitly (BLAS.setThreads), which OpenBLAS grants by adding threads.
if getenv("OPENBLAS_NUM_THREADS") == nil {
    setenv("OPENBLAS_NUM_THREADS", "1", 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    // exec failed (no /proc): carry on with the spinning threads.
}

FlowCommand.runMain()
