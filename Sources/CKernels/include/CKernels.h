#ifndef FLOW_CKERNELS_H
#define FLOW_CKERNELS_H

/// The first j in 0..<count minimising row[j] + add[j] (finite inputs; -1 when count is 0).
/// Runs the widest SIMD variant this CPU supports (AVX-512, AVX2, else baseline SSE2); every
/// variant computes the same float sums, so the result does not depend on the CPU.
long flow_argmin_plus(const float *row, const float *add, long count);

#endif
