#include "engine/ops/ops.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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
 * (test_matvec). */

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

void linear(const float *x, int n, const struct weight *W, const float *bias, float *y, const struct workspace *ws)
{
    const int64_t out = W->rows;
    if (n == 1) {
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

int64_t linear_workspace_floats(int64_t max_cols)
{
    return LINEAR_BLOCK_MAX_ROWS * max_cols;
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
