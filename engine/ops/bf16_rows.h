/* Decode attention's two products under bf16 compute, written out: a few
 * bfloat16 query rows against a block of bfloat16 cache rows (scores), and
 * bfloat16 probabilities against the block's value rows (Σ p v).
 *
 * With one query row per head these products are a matrix-vector pair, bound
 * by reading the cache. oneDNN's matmul (bf16_gemm.h), called for each block
 * and KV head with two or so rows, read a bf16 cache at about half the
 * measured bandwidth, no faster than the float32 path read twice the bytes
 * (bench/bench_decode_attention, docs/kernel-measurements.md). These loops
 * read each row once and do the arithmetic in registers.
 *
 * Every product of two bfloat16 numbers is exact in float32 (8 + 8
 * significant bits), so each output is a float32 sum of exact products, the
 * same quantity bf16_gemm computes, in an order fixed here: one fused
 * multiply-add per term (fmaf, so an exact product is added with one
 * rounding). The AVX-512 forms do the same operations in the same order as
 * the portable definitions, so the bits are the same on any CPU
 * (tests/test_bf16_rows.c). */
#ifndef HYRECALL_BF16_ROWS_H
#define HYRECALL_BF16_ROWS_H

#include <stdint.h>

/* S[h·lds + j] = Σ_c q[h·d + c] · k[j·ldk + (h / group)·d + c] for h < heads,
 * j < n: every query head against the rows of its KV head (GQA: `group`
 * heads share one), each cache row (all KV heads, ldk apart) read once, in
 * order. Order of a sum: sixteen partial sums, term c into lane c mod 16 in
 * ascending c, then halved: lane l += lane l + 8, then + 4, + 2, + 1. */
void bf16_dot_rows(const uint16_t *q, int heads, int group, int d, const uint16_t *k, int64_t ldk, int n, float *S,
                   int64_t lds);
void bf16_dot_rows_portable(const uint16_t *q, int heads, int group, int d, const uint16_t *k, int64_t ldk, int n,
                            float *S, int64_t lds);

/* O[h·d + c] += Σ_j p[h·ldp + j] · v[j·ldv + (h / group)·d + c] for h < heads,
 * c < d. Order: j ascending, one fused multiply-add per term onto O, so two
 * calls over consecutive runs of rows (a ring of cache slots that wraps)
 * give the bits of one call over both. */
void bf16_weighted_rows(const uint16_t *p, int64_t ldp, int heads, int group, const uint16_t *v, int64_t ldv, int n,
                        int d, float *O);
void bf16_weighted_rows_portable(const uint16_t *p, int64_t ldp, int heads, int group, const uint16_t *v, int64_t ldv,
                                 int n, int d, float *O);

#endif
