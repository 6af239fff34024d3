#include "ops.h"

#include <cblas.h>
#include <math.h>

void linear(const float *x, int n, const struct weight *W, const float *bias, float *y)
{
    const int out = (int)W->rows, in = (int)W->cols;
    if (n == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.0f, W->w, in, x, 1, 0.0f, y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, W->w, in, 0.0f, y, out);
    if (bias)
        for (int t = 0; t < n; t++)
            for (int o = 0; o < out; o++) y[(int64_t)t * out + o] += bias[o];
}

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
