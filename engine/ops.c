#include "ops.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "matvec.h"

/* A batch through a BF16 matrix: rows of W are widened to float32 a panel at
 * a time and each panel goes through one SGEMM. Each SGEMM call packs the
 * batch x again, so panels are large (LINEAR_PANEL_BYTES, which holds most
 * projections whole, and never fewer than 256 rows: OpenBLAS is slow on
 * narrow products); the panel buffer is kept per thread and reused, so no
 * call allocates after the first (bench_matvec: 92-94 % of float32 SGEMM's
 * speed with 64 MiB panels, 84-91 % with 16 MiB). Every output element is
 * the same OpenBLAS dot over all of W.cols as with a float32 copy of W (the
 * split is over output columns only), so the bits do not change (test_matvec). */
#define PANEL_MIN_ROWS 256

static _Thread_local float *panel_buf;
static _Thread_local int64_t panel_cap; /* floats */

static void linear_bf16_panels(const float *x, int n, const struct weight *W, float *y)
{
    const int64_t out = W->rows, in = W->cols;
    int64_t panel = LINEAR_PANEL_BYTES / (in * (int64_t)sizeof(float));
    panel = panel < PANEL_MIN_ROWS ? PANEL_MIN_ROWS : panel - panel % 16;
    if (panel > out) panel = out;
    if (panel_cap < panel * in) {
        float *grown = realloc(panel_buf, (size_t)(panel * in) * sizeof(float));
        if (!grown) {
            fprintf(stderr, "hyrecall: out of memory for a %lld x %lld weight panel\n", (long long)panel,
                    (long long)in);
            abort();
        }
        panel_buf = grown;
        panel_cap = panel * in;
    }
    for (int64_t r0 = 0; r0 < out; r0 += panel) {
        const int64_t R = out - r0 < panel ? out - r0 : panel;
        weight_rows_to_f32(W, r0, R, panel_buf);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, (int)R, (int)in, 1.0f, x, (int)in, panel_buf, (int)in,
                    0.0f, y + r0, (int)out);
    }
}

void linear(const float *x, int n, const struct weight *W, const float *bias, float *y)
{
    const int out = (int)W->rows, in = (int)W->cols;
    if (n == 1)
        matvec(W, x, y);
    else if (W->bf16)
        linear_bf16_panels(x, n, W, y);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, W->f32, in, 0.0f, y, out);
    if (bias)
        for (int t = 0; t < n; t++)
            for (int o = 0; o < out; o++) y[(int64_t)t * out + o] += bias[o];
}

void weight_row(const struct weight *W, int64_t r, float *out) { weight_rows_to_f32(W, r, 1, out); }

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
