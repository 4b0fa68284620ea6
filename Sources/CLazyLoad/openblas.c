/* OpenBLAS, for the numerics of the built-in ops (BLAS module). */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include "../COpenBLAS/shim.h"
#include "forward.h"

static struct flow_lazy_library openblas = {"libopenblas.so.0", "libopenblas0", 0};

FLOW_FORWARD_VOID(openblas, cblas_saxpy,
                  (OPENBLAS_CONST blasint n, OPENBLAS_CONST float alpha, OPENBLAS_CONST float *x, OPENBLAS_CONST blasint incx,
                   float *y, OPENBLAS_CONST blasint incy),
                  (n, alpha, x, incx, y, incy))
FLOW_FORWARD(openblas, float, cblas_sdot,
             (OPENBLAS_CONST blasint n, OPENBLAS_CONST float *x, OPENBLAS_CONST blasint incx, OPENBLAS_CONST float *y,
              OPENBLAS_CONST blasint incy),
             (n, x, incx, y, incy))
FLOW_FORWARD_VOID(openblas, cblas_sgemm,
                  (OPENBLAS_CONST enum CBLAS_ORDER order, OPENBLAS_CONST enum CBLAS_TRANSPOSE transA,
                   OPENBLAS_CONST enum CBLAS_TRANSPOSE transB, OPENBLAS_CONST blasint m, OPENBLAS_CONST blasint n,
                   OPENBLAS_CONST blasint k, OPENBLAS_CONST float alpha, OPENBLAS_CONST float *a, OPENBLAS_CONST blasint lda,
                   OPENBLAS_CONST float *b, OPENBLAS_CONST blasint ldb, OPENBLAS_CONST float beta, float *c,
                   OPENBLAS_CONST blasint ldc),
                  (order, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc))
FLOW_FORWARD_VOID(openblas, cblas_sgemv,
                  (OPENBLAS_CONST enum CBLAS_ORDER order, OPENBLAS_CONST enum CBLAS_TRANSPOSE trans, OPENBLAS_CONST blasint m,
                   OPENBLAS_CONST blasint n, OPENBLAS_CONST float alpha, OPENBLAS_CONST float *a, OPENBLAS_CONST blasint lda,
                   OPENBLAS_CONST float *x, OPENBLAS_CONST blasint incx, OPENBLAS_CONST float beta, float *y,
                   OPENBLAS_CONST blasint incy),
                  (order, trans, m, n, alpha, a, lda, x, incx, beta, y, incy))
FLOW_FORWARD(openblas, float, cblas_snrm2, (OPENBLAS_CONST blasint n, OPENBLAS_CONST float *x, OPENBLAS_CONST blasint incx),
             (n, x, incx))
FLOW_FORWARD_VOID(openblas, cblas_sscal,
                  (OPENBLAS_CONST blasint n, OPENBLAS_CONST float alpha, float *x, OPENBLAS_CONST blasint incx),
                  (n, alpha, x, incx))
FLOW_FORWARD(openblas, char *, openblas_get_config, (void), ())
FLOW_FORWARD(openblas, char *, openblas_get_corename, (void), ())
FLOW_FORWARD(openblas, int, openblas_get_num_threads, (void), ())
FLOW_FORWARD_VOID(openblas, openblas_set_num_threads, (int threads), (threads))

/* DYNAMIC_ARCH builds of OpenBLAS (Debian's) export gotoblas_dynamic_init/quit without declaring
 * them; other builds lack them, and the kernel cannot be changed (0). */
int flow_openblas_select_core(const char *name) {
    void (*init)(void) = (void (*)(void))flow_lazy_optional_symbol(&openblas, "gotoblas_dynamic_init");
    void (*quit)(void) = (void (*)(void))flow_lazy_optional_symbol(&openblas, "gotoblas_dynamic_quit");
    if (!init || !quit) return 0;
    const char *old = getenv("OPENBLAS_CORETYPE");
    char saved[64] = {0};
    if (old) strncpy(saved, old, sizeof saved - 1);
    setenv("OPENBLAS_CORETYPE", name, 1);
    quit();
    init();
    if (old) setenv("OPENBLAS_CORETYPE", saved, 1); else unsetenv("OPENBLAS_CORETYPE");
    return 1;
}
