import FlowCommands
import Glibc

// OpenBLAS starts a thread per core when it is loaded, and those threads spin for about 0.1 s
// of CPU each waiting for work. It is loaded only when an op first multiplies a matrix
// (CLazyLoad), and reads this variable then: unless the user chose a count, it starts with one
// thread; ops that want more ask for them explicitly (BLAS.setThreads).
if getenv("OPENBLAS_NUM_THREADS") == nil {
    setenv("OPENBLAS_NUM_THREADS", "1", 1)
}

FlowCommand.runMain()
