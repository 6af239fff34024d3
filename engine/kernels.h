/* Small vector kernels with a fixed summation order: eight independent
 * partial sums combined pairwise. The order never depends on threads or on
 * how the compiler vectorises, so results are bit-reproducible. */
#ifndef HYRECALL_KERNELS_H
#define HYRECALL_KERNELS_H

#include <stdint.h>

static inline float dot_f32(const float *a, const float *b, int64_t n)
{
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) acc[l] += a[i + l] * b[i + l];
    for (; i < n; i++) acc[i & 7] += a[i] * b[i];
    return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

/* y += alpha * x */
static inline void axpy_f32(float alpha, const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

#endif
