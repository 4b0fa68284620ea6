/* COpenBLAS: the C headers Swift imports for libopenblas. */
#pragma once
#include <cblas.h>

/* Added by the numerics engineer (see the final report): explicit OpenBLAS kernel choice.
 * Debian's OpenBLAS 0.3.21 is a DYNAMIC_ARCH build; on CPUs it does not know (e.g. recent Intel
 * Xeons) it falls back to the generic Prescott kernel, 4-5x slower than the AVX-512 one.
 * gotoblas_dynamic_init/quit are exported by DYNAMIC_ARCH builds but not declared in cblas.h;
 * they are weak here so that other builds still link (the helper then returns 0). */
#include <stdlib.h>
#include <string.h>
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));
/* Re-initialises OpenBLAS with kernel `name` (as OPENBLAS_CORETYPE would at load time), leaving
 * the environment as it was. Call before any BLAS work. Returns 1 if done, 0 if unsupported. */
static inline int flow_openblas_select_core(const char *name) {
    if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit) return 0;
    const char *old = getenv("OPENBLAS_CORETYPE");
    char saved[64] = {0};
    if (old) strncpy(saved, old, sizeof saved - 1);
    setenv("OPENBLAS_CORETYPE", name, 1);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    if (old) setenv("OPENBLAS_CORETYPE", saved, 1); else unsetenv("OPENBLAS_CORETYPE");
    return 1;
}
