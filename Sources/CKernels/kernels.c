// SIMD kernels with run-time dispatch: the package is built for baseline x86-64 (so that one
// binary runs on every node of a cluster), and these few hot loops pick AVX-512 or AVX2 when
// the CPU has them. Each variant is the same C compiled for another target, so all compute
// identical float sums and pick the same index.
#include "CKernels.h"
#include <math.h>

typedef float v16f __attribute__((vector_size(64)));

// Minimum of blocks of 64 sums, then a scan of the first block holding the overall minimum
// (the first occurrence wins). The tail beyond the last whole block wins only when strictly
// smaller, which keeps "first occurrence" exact.
#define ARGMIN_PLUS_BODY                                                                   \
    long j = 0, best_block = -1;                                                           \
    float best = INFINITY;                                                                 \
    for (; j + 64 <= count; j += 64) {                                                     \
        v16f m;                                                                            \
        __builtin_memcpy(&m, row + j, 64);                                                 \
        v16f a;                                                                            \
        __builtin_memcpy(&a, add + j, 64);                                                 \
        m += a;                                                                            \
        for (int t = 1; t < 4; t++) {                                                      \
            v16f r, b;                                                                     \
            __builtin_memcpy(&r, row + j + 16 * t, 64);                                    \
            __builtin_memcpy(&b, add + j + 16 * t, 64);                                    \
            r += b;                                                                        \
            m = __builtin_elementwise_min(r, m);                                           \
        }                                                                                  \
        float block_min = m[0];                                                            \
        for (int l = 1; l < 16; l++) block_min = m[l] < block_min ? m[l] : block_min;      \
        if (block_min < best) { best = block_min; best_block = j; }                        \
    }                                                                                      \
    float tail_best = INFINITY;                                                            \
    long tail_index = -1;                                                                  \
    for (; j < count; j++) {                                                               \
        float v = row[j] + add[j];                                                         \
        if (v < tail_best) { tail_best = v; tail_index = j; }                              \
    }                                                                                      \
    if (best_block >= 0 && best <= tail_best) {                                            \
        for (long t = best_block; t < best_block + 64; t++)                                \
            if (row[t] + add[t] == best) return t;                                         \
    }                                                                                      \
    return tail_index;

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static long argmin_plus_avx512(const float *row, const float *add, long count) {
    ARGMIN_PLUS_BODY
}
__attribute__((target("avx2"))) static long argmin_plus_avx2(const float *row, const float *add, long count) {
    ARGMIN_PLUS_BODY
}
#endif
static long argmin_plus_baseline(const float *row, const float *add, long count) {
    ARGMIN_PLUS_BODY
}

typedef long (*argmin_fn)(const float *, const float *, long);

static argmin_fn choose(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return argmin_plus_avx512;
    if (__builtin_cpu_supports("avx2")) return argmin_plus_avx2;
#endif
    return argmin_plus_baseline;
}

// Chosen on first use. Threads racing here all store the same pointer.
static argmin_fn chosen;

long flow_argmin_plus(const float *row, const float *add, long count) {
    argmin_fn f = __atomic_load_n(&chosen, __ATOMIC_RELAXED);
    if (!f) { f = choose(); __atomic_store_n(&chosen, f, __ATOMIC_RELAXED); }
    return f(row, add, count);
}
