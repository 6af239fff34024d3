#include "engine/ops/ops.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/ops/bf16_gemm.h"
#include "engine/ops/matvec.h"

/* A batch through W is cut into blocks of output features (linear_block_rows),
 * each one single-threaded OpenBLAS SGEMM, the blocks shared among the OpenMP
 * threads. The cut is a constant, never the thread count: OpenBLAS's own
 * threading splits a GEMM by the number of threads, and its Haswell kernels
 * then round some outputs differently (1 vs 2 threads differed by up to 1e-4
 * in the logits), so each block's call is made inside the parallel region,
 * where OpenBLAS runs it on the calling thread (cpu.h), and every output
 * element is the same call on the same block whatever the threads.
 * A BF16 block is first widened into the calling thread's slice of the
 * caller's workspace (workspace.h; linear_workspace_floats is its size); every
 * element is the same OpenBLAS dot over all of W.cols as with a float32 copy
 * of W, so BF16 storage gives the bits of the same values stored as F32
 * (test_matvec).
 * Under COMPUTE_BF16 the blocks are the same, and each one rounds x (at most
 * LINEAR_BLOCK_MAX_ROWS rows at a time) and, for a float32 matrix, its block
 * of W to bfloat16 in the thread's slice, then takes bf16_gemm_nt's products;
 * a single row goes the same way, so decode and prefill compute alike. */

static enum compute compute_mode = COMPUTE_F32;

int linear_set_compute(enum compute c, struct hr_error *e)
{
    if (c == COMPUTE_BF16 && bf16_gemm_init(e)) return -1;
    compute_mode = c;
    return 0;
}

enum compute linear_compute(void)
{
    return compute_mode;
}

const char *compute_name(enum compute c)
{
    return c == COMPUTE_BF16 ? "bf16" : "f32";
}

bool linear_stages(const struct weight *W)
{
    return compute_mode == COMPUTE_BF16 ? weight_present(W) : W->bf16 != NULL;
}

int64_t linear_block_rows(int64_t rows)
{
    int64_t blocks = (rows + LINEAR_BLOCK_MAX_ROWS - 1) / LINEAR_BLOCK_MAX_ROWS;
    blocks += blocks % 2;
    const int64_t per = (rows + blocks - 1) / blocks;
    return (per + 15) / 16 * 16;
}

static void linear_block(const float *x, int n, const struct weight *W, int64_t r0, int64_t rows, float *y,
                         float *widened)
{
    const int64_t out = W->rows, in = W->cols;
    const int64_t R = out - r0 < rows ? out - r0 : rows;
    const float *w = W->f32 ? W->f32 + r0 * in : NULL;
    if (!w) {
        weight_rows_to_f32(W, r0, R, widened);
        w = widened;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, (int)R, (int)in, 1.0f, x, (int)in, w, (int)in, 0.0f, y + r0,
                (int)out);
}

/* Rows r0.. of W (a block of at most LINEAR_BLOCK_MAX_ROWS) by bf16 products:
 * the slice holds x's bfloat16 rows, then (float32 W only) the block's. */
static void linear_block_bf16(const float *x, int n, const struct weight *W, int64_t r0, int64_t rows, float *y,
                              float *slice)
{
    const int64_t out = W->rows, in = W->cols;
    const int64_t R = out - r0 < rows ? out - r0 : rows;
    uint16_t *xb = (uint16_t *)slice, *wb = xb + (int64_t)LINEAR_BLOCK_MAX_ROWS * in;
    const uint16_t *w = W->bf16 ? W->bf16 + r0 * in : wb;
    if (!W->bf16) bf16_round(W->f32 + r0 * in, R * in, wb);
    for (int t0 = 0; t0 < n; t0 += LINEAR_BLOCK_MAX_ROWS) {
        const int m = n - t0 < LINEAR_BLOCK_MAX_ROWS ? n - t0 : LINEAR_BLOCK_MAX_ROWS;
        bf16_round(x + (int64_t)t0 * in, (int64_t)m * in, xb);
        bf16_gemm_nt(xb, m, w, R, in, y + (int64_t)t0 * out + r0, out);
    }
}

void linear(const float *x, int n, const struct weight *W, const float *bias, float *y, const struct workspace *ws)
{
    const int64_t out = W->rows;
    if (compute_mode == COMPUTE_BF16) {
        const int64_t rows = linear_block_rows(out), blocks = (out + rows - 1) / rows;
#pragma omp parallel for schedule(dynamic, 1) num_threads(workspace_team(ws))
        for (int64_t b = 0; b < blocks; b++) linear_block_bf16(x, n, W, b * rows, rows, y, workspace_mine(ws));
    } else if (n == 1) {
        matvec(W, x, y);
    } else {
        const int64_t rows = linear_block_rows(out), blocks = (out + rows - 1) / rows;
        /* No if-clause: a single block too must be called from inside the
         * region (outside it, OpenBLAS would split it across the threads).
         * Dynamic: blocks are independent, so the schedule cannot change the bits. */
#pragma omp parallel for schedule(dynamic, 1) num_threads(workspace_team(ws))
        for (int64_t b = 0; b < blocks; b++) linear_block(x, n, W, b * rows, rows, y, workspace_mine(ws));
    }
    if (bias)
        for (int t = 0; t < n; t++)
            for (int64_t o = 0; o < out; o++) y[(int64_t)t * out + o] += bias[o];
}

int64_t linear_workspace_floats(int n, int64_t max_cols)
{
    if (compute_mode == COMPUTE_BF16) /* x's rows and a block of W, 2 bytes each */
        return LINEAR_BLOCK_MAX_ROWS * max_cols;
    return n > 1 ? LINEAR_BLOCK_MAX_ROWS * max_cols : 0;
}

void weight_row(const struct weight *W, int64_t r, float *out)
{
    weight_rows_to_f32(W, r, 1, out);
}

void rmsnorm(const float *x, const float *w, int n, int d, double eps, float *y)
{
#pragma omp parallel for schedule(static) if ((int64_t)n * d >= PARALLEL_MIN_ELEMENTS)
    for (int t = 0; t < n; t++) {
        const float *xr = x + (int64_t)t * d;
        float *yr = y + (int64_t)t * d;
        double ss = 0.0; /* double: the mean of squares is the one reduction that loses bits */
        for (int i = 0; i < d; i++) ss += (double)xr[i] * xr[i];
        float inv = (float)(1.0 / sqrt(ss / d + eps));
        for (int i = 0; i < d; i++) yr[i] = w[i] * (xr[i] * inv);
    }
}

void swiglu(const float *gate, const float *up, int64_t n, float *out)
{
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN_ELEMENTS)
    for (int64_t i = 0; i < n; i++) out[i] = silu(gate[i]) * up[i];
}

void silu_inplace(float *x, int64_t n)
{
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN_ELEMENTS)
    for (int64_t i = 0; i < n; i++) x[i] = silu(x[i]);
}

void mul_silu_inplace(float *y, const float *gate, int64_t n)
{
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN_ELEMENTS)
    for (int64_t i = 0; i < n; i++) y[i] *= silu(gate[i]);
}

void mul_sigmoid_inplace(float *y, const float *gate, int64_t n)
{
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN_ELEMENTS)
    for (int64_t i = 0; i < n; i++) y[i] *= sigmoidf(gate[i]);
}

void add_inplace(float *y, const float *x, int64_t n)
{
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN_ELEMENTS)
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}
