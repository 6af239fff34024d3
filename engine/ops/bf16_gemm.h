/* bfloat16 compute (--compute bf16): the products of a projection taken as a
 * GPU's bf16 inference takes them. The activations are rounded to bfloat16
 * (round to nearest even, as torch's .to(torch.bfloat16)) and each output is
 * a float32 sum of exact bf16 x bf16 products. float32 stays the default;
 * this is an option for speed and for comparing with bf16 runtimes.
 *
 * The products are oneDNN's matmul (Debian's libdnnl, 2.6), which picks the
 * CPU's best bf16 instructions: AMX tiles where the CPU has them, else
 * AVX512-BF16 dot products, else widening. It won against a hand-written
 * AVX512-BF16 kernel by 6x on this project's machine (docs/kernel-
 * measurements.md), so no kernel of ours is used. Its order of summation is
 * its own: the tests hold it to the rounding bound of an exact sum, not to
 * bits of another implementation. Each call runs on the calling thread
 * (linear() calls it inside its parallel region over fixed blocks, as with
 * OpenBLAS), so the bits do not depend on the thread count (test_determinism). */
#ifndef HYRECALL_BF16_GEMM_H
#define HYRECALL_BF16_GEMM_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/base/error.h"

/* Makes oneDNN's CPU engine; -1 with a message when it cannot. Call once,
 * outside parallel regions, before the first bf16_gemm_nt. */
int bf16_gemm_init(struct hr_error *e);

/* The instructions oneDNN uses for a bf16 matmul on this CPU, as it names
 * its implementation ("brg:avx512_core_amx_bf16", ...); after init. */
const char *bf16_gemm_isa(void);

/* count floats of x rounded to bfloat16 into out (f32_to_bf16 of dtype.h: nearest even). */
void bf16_round(const float *x, int64_t count, uint16_t *out);

/* C = A · B, each C[i, j] a float32 sum of exact bf16 x bf16 products, on
 * the calling thread:
 *   A [m, k] bfloat16, row i at a + i·lda;
 *   B [k, n] bfloat16, element (p, j) at b[p·b_row + j·b_col]: (1, ldw) is
 *     Wᵀ for a row-major W [n, k] with rows ldw apart (a projection's
 *     weights, attention's keys), (ldb, 1) a row-major [k, n] (its values);
 *   C [m, n] float32, row i at c + i·ldc (the columns past n untouched).
 * A failure inside oneDNN (out of memory) ends the process with a message:
 * it is called from parallel regions that cannot return an error. */
void bf16_gemm(int m, int64_t n, int64_t k, const uint16_t *a, int64_t lda, const uint16_t *b, int64_t b_row,
               int64_t b_col, float *c, int64_t ldc);

/* y[t·ldy + o] = Σ_c x[t·k_len + c] · w[o·k_len + c] for t < n, o < rows: x
 * and w row-major with k_len columns each (linear()'s form). */
static inline void bf16_gemm_nt(const uint16_t *x, int n, const uint16_t *w, int64_t rows, int64_t k_len, float *y,
                                int64_t ldy)
{
    bf16_gemm(n, rows, k_len, x, k_len, w, 1, k_len, y, ldy);
}

#endif
