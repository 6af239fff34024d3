/* Dense building blocks shared by every architecture. Row-major throughout;
 * a weight matrix W is [out, in] as Hugging Face stores nn.Linear, so a
 * projection is y = x Wᵀ. */
#ifndef HYRECALL_OPS_H
#define HYRECALL_OPS_H

#include <math.h>
#include <stdint.h>

/* A float32 matrix [rows, cols], read-only (a view into the mmap when the
 * file stores aligned F32, else a converted copy owned by the model). */
struct weight {
    const float *w;
    int64_t rows, cols;
};

/* y[n, W.rows] = x[n, W.cols] Wᵀ (+ bias when non-NULL). One OpenBLAS GEMM
 * for a batch, GEMV for a single row. */
void linear(const float *x, int n, const struct weight *W, const float *bias, float *y);

/* RMSNorm (Zhang & Sennrich 2019) as Llama/Qwen: y = x / sqrt(mean(x²) + eps) * w,
 * over the last dimension d, for n rows. In place allowed. */
void rmsnorm(const float *x, const float *w, int n, int d, double eps, float *y);

/* out = silu(gate) * up: the SwiGLU of the MLP (Shazeer 2020). */
void swiglu(const float *gate, const float *up, int64_t n, float *out);

static inline float silu(float x) { return x / (1.0f + expf(-x)); }

/* y += x, n elements. */
void add_inplace(float *y, const float *x, int64_t n);

#endif
