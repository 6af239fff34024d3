/* Weight-streaming kernels: the matrix-vector product of decode, and the
 * widening of BF16 rows for the GEMMs of prefill.
 *
 * Decode reads every weight once per token, so its speed is the memory
 * bandwidth divided by the bytes per weight: a BF16 checkpoint used straight
 * from the mmap streams half the bytes of a float32 copy (and needs no copy).
 * BF16 is the top half of a float32, so widening is exact (a 16-bit shift),
 * and the arithmetic stays float32: activations are never rounded to BF16
 * (the AVX-512 BF16 dot instructions would round them, so they are not used).
 *
 * The order of the arithmetic is fixed: each row's dot product keeps 16
 * partial sums, element k going to sum k mod 16 (multiply, then add: no
 * fused multiply-add), combined pairwise at the end. The AVX-512 path and the
 * portable path follow that order exactly, so the result is the same bits
 * for float32 and BF16 storage of the same values, on any thread count, with
 * or without AVX-512. */
#ifndef HYRECALL_MATVEC_H
#define HYRECALL_MATVEC_H

#include <stdint.h>

#include "engine/ops/ops.h"

/* y[W.rows] = W x, x of W.cols floats. Rows are split over OpenMP threads. */
void matvec(const struct weight *W, const float *x, float *y);

/* The same product by the portable path only (the tests' reference for the
 * AVX-512 path). */
void matvec_portable(const struct weight *W, const float *x, float *y);

/* Whether matvec takes the AVX-512 path on this CPU. */
int matvec_uses_avx512(void);

/* Rows [r0, r0 + n) of W as float32 (exact), into out[n, W.cols]. */
void weight_rows_to_f32(const struct weight *W, int64_t r0, int64_t n, float *out);

#endif
