// BLAS: a Swift wrapper over COpenBLAS (work in progress).
import COpenBLAS
