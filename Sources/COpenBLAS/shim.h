/* COpenBLAS: the C headers Swift imports for libopenblas, which is loaded on first use
 * (CLazyLoad/openblas.c). */
#pragma once
#include <cblas.h>

/* Re-initialises OpenBLAS with kernel `name` (as OPENBLAS_CORETYPE would at load time), leaving
 * the environment as it was. Call before any BLAS work. Returns 1 if done, 0 if unsupported.
 * Debian's OpenBLAS 0.3.21 is a DYNAMIC_ARCH build; on CPUs it does not know (recent Intel
 * Xeons) it falls back to the generic Prescott kernel, 4-5x slower than the AVX-512 one. */
int flow_openblas_select_core(const char *name);
