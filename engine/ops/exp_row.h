/* The exponentials of an online softmax row (Milakov & Gimelshein 2018):
 * the hot loop of prefill attention once its products run on AMX. */
#ifndef HYRECALL_EXP_ROW_H
#define HYRECALL_EXP_ROW_H

#include <stdbool.h>
#include <stdint.h>

/* row[j] ← e^(row[j] − mx) for j in [a, z), 0 elsewhere in [0, n), each by
 * exp_nonpos_f32 (kernels.h); returns their sum as eight partial sums, lane
 * (j − a) mod 8 over whole groups of eight from a, lane j mod 8 for the rest,
 * combined pairwise. Uses an AVX-512 form where the CPU has it: the same
 * IEEE operations on every element in the same order, so the same bits as
 * exp_row_portable (tests/test_exp_row.c). */
float exp_row(float *row, int n, int a, int z, float mx);

/* The definition: plain C, which the compiler vectorises to SSE2's width. */
float exp_row_portable(float *row, int n, int a, int z, float mx);

/* bf16 compute's form, the probabilities of FlashAttention-2's bf16 P:
 * p[j] ← bf16(e^(row[j] · scale − mx)) for j in [a, z), 0 elsewhere in
 * [0, n), row left as it is; returns the sum of the float32 exponentials in
 * exp_row's order. The scale is applied here rather than in a pass of its
 * own: row[j] · scale is the same float either way. */
float exp_row_bf16(const float *row, int n, int a, int z, float scale, float mx, uint16_t *p);
float exp_row_bf16_portable(const float *row, int n, int a, int z, float scale, float mx, uint16_t *p);

/* Whether exp_row and exp_row_bf16 take the AVX-512 form on this CPU. */
bool exp_row_uses_avx512(void);

#endif
