/* Dense building blocks shared by every architecture. Row-major throughout;
 * a weight matrix W is [out, in] as Hugging Face stores nn.Linear, so a
 * projection is y = x Wᵀ. */
#ifndef HYRECALL_OPS_H
#define HYRECALL_OPS_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/base/error.h"
#include "engine/ops/workspace.h"

/* A matrix [rows, cols], read-only, stored one of two ways:
 *   f32  — float32: a view into the mmap when the file stores aligned F32,
 *          else a converted copy owned by the model (F16, patched tensors);
 *   bf16 — bfloat16, a view into the mmap, never copied: kernels widen each
 *          value to float32 exactly as they stream it (see matvec.h).
 * Exactly one of the two pointers is set; both are NULL for an absent matrix. */
struct weight {
    const float *f32;
    const uint16_t *bf16;
    int64_t rows, cols;
};

static inline bool weight_present(const struct weight *W)
{
    return W->f32 || W->bf16;
}

/* y[n, W.rows] = x[n, W.cols] Wᵀ (+ bias when non-NULL). A single row is a
 * matvec (matvec.h); a batch is single-threaded OpenBLAS SGEMMs over fixed
 * blocks of rows of W (linear_block_rows), shared among the OpenMP threads, each
 * BF16 block widened to float32 first (never the whole matrix).
 * Under COMPUTE_BF16 every product (one row or a batch) is bf16_gemm.h's
 * instead: x and the block of W rounded to bfloat16, float32 sums. */
void linear(const float *x, int n, const struct weight *W, const float *bias, float *y, const struct workspace *ws);

/* How linear() multiplies, for the whole process (--compute): float32
 * arithmetic (the default; BF16 weights widened exactly) or bfloat16 products
 * as GPU bf16 inference takes them (bf16_gemm.h). Set before any session is
 * made: the workspace a session reserves depends on it. Softmax attention
 * follows it too (attention.h: bf16 q, k, v, scores and P·V as bf16
 * products, the softmax in float32); the linear-attention chunks and every
 * other operation stay float32. */
enum compute { COMPUTE_F32, COMPUTE_BF16 };
/* -1 with a message when bf16's library (oneDNN) cannot start. */
int linear_set_compute(enum compute c, struct hr_error *e);
enum compute linear_compute(void);
const char *compute_name(enum compute c); /* "f32", "bf16" */

/* A batched linear() cuts W into an even number of blocks of at most
 * LINEAR_BLOCK_MAX_ROWS rows (a multiple of 16), chosen from W's shape alone
 * so that the bits never depend on the thread count. Each block repacks x, so
 * blocks are large; an even count keeps two threads equally busy
 * (bench_matvec figures: docs/kernel-measurements.md). */
#define LINEAR_BLOCK_MAX_ROWS 1024
int64_t linear_block_rows(int64_t rows);

/* The workspace slice (floats per thread) linear() needs for n rows of x
 * through matrices of at most max_cols columns that it stages: float32, a
 * batch's widened BF16 blocks (0 for one row); bf16, x and a block of W in
 * bfloat16 (for any n: x is taken LINEAR_BLOCK_MAX_ROWS rows at a time). */
int64_t linear_workspace_floats(int n, int64_t max_cols);
/* Whether linear() stages W (and so counts toward max_cols above): BF16
 * matrices under float32 compute, every matrix under bf16 compute. */
bool linear_stages(const struct weight *W);

/* Row r of W as float32 (exact): an embedding lookup. */
void weight_row(const struct weight *W, int64_t r, float *out);

/* RMSNorm (Zhang & Sennrich 2019) as Llama/Qwen: y = x / sqrt(mean(x²) + eps) * w,
 * over the last dimension d, for n rows. In place allowed. */
void rmsnorm(const float *x, const float *w, int n, int d, double eps, float *y);

static inline float silu(float x)
{
    return x / (1.0f + expf(-x));
}
static inline float sigmoidf(float x)
{
    return 1.0f / (1.0f + expf(-x));
}
static inline float softplusf(float x)
{
    return x > 20.0f ? x : log1pf(expf(x));
} /* torch's threshold 20 */

/* Element-wise passes over activations, n elements. Each element's result
 * depends on that element alone, so they run split across the OpenMP threads
 * (above PARALLEL_MIN_ELEMENTS, where a fork and join cost less than the loop)
 * with the same bits as one thread: on a 2-core machine a serial pass costs
 * twice its share of time, the other core spinning. */
#define PARALLEL_MIN_ELEMENTS 16384

void swiglu(const float *gate, const float *up, int64_t n, float *out); /* silu(gate) ⊙ up (Shazeer 2020) */
void silu_inplace(float *x, int64_t n);                                 /* x ← silu(x) */
void mul_silu_inplace(float *y, const float *gate, int64_t n);          /* y ← y ⊙ silu(gate) */
void mul_sigmoid_inplace(float *y, const float *gate, int64_t n);       /* y ← y ⊙ sigmoid(gate) */
void add_inplace(float *y, const float *x, int64_t n);                  /* y ← y + x */

#endif
