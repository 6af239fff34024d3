#include "ops.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "matvec.h"

/* Rows of a BF16 matrix widened per GEMM: about 2 MiB of float32, so the
 * panel stays in cache between being written and being packed by OpenBLAS. */
#define PANEL_BYTES (2 << 20)

/* y[:, r0:r0+R] for BF16 W, panel by panel. Each output element is the same
 * OpenBLAS dot over all of W.cols as with a float32 copy of W; only which
 * columns of y one call writes differs. */
static void linear_bf16_panels(const float *x, int n, const struct weight *W, float *y)
{
    const int64_t out = W->rows, in = W->cols;
    int64_t panel = PANEL_BYTES / (in * (int64_t)sizeof(float));
    panel = panel < 16 ? 16 : panel - panel % 16;
    if (panel > out) panel = out;
    float *buf = malloc((size_t)(panel * in) * sizeof(float));
    if (!buf) {
        fprintf(stderr, "hyrecall: out of memory for a %lld x %lld weight panel\n", (long long)panel,
                (long long)in);
        abort();
    }
    for (int64_t r0 = 0; r0 < out; r0 += panel) {
        const int64_t R = out - r0 < panel ? out - r0 : panel;
        weight_rows_to_f32(W, r0, R, buf);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, (int)R, (int)in, 1.0f, x, (int)in, buf, (int)in,
                    0.0f, y + r0, (int)out);
    }
    free(buf);
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
    for (int64_t i = 0; i < n; i++) out[i] = silu(gate[i]) * up[i];
}

void add_inplace(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}
