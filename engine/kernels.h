/* Small vector kernels with a fixed summation order: eight independent
 * partial sums combined pairwise. The order never depends on threads or on
 * how the compiler vectorises, so results are bit-reproducible. */
#ifndef HYRECALL_KERNELS_H
#define HYRECALL_KERNELS_H

#include <stdint.h>
#include <string.h>

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

/* e^x for finite x <= 0, as Cephes' expf (S. Moshier): x = n ln2 + r with
 * |r| <= ln2/2, e^r by a degree-6 polynomial (relative error below 2e-7, about
 * 2 ulp), times 2^n built in the exponent bits. Plain IEEE arithmetic without
 * branches or calls, so loops over it vectorise (with -fno-trapping-math) and give the same bits on any
 * thread. Below −87 it returns 0 (e^−87 is 1.6e−38: the softmax cannot tell). */
static inline float exp_nonpos_f32(float x)
{
    const float clamped = x < -87.0f ? -87.0f : x;
    const float t = clamped * 1.44269504088896341f + 0.5f;
    const int32_t i = (int32_t)t;
    const int32_t n = i - ((float)i > t ? 1 : 0); /* floor(t) */
    const float fn = (float)n;
    float r = clamped - fn * 0.693359375f; /* ln2 in two parts: r exact to float precision */
    r = r - fn * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float er = p * (r * r) + r + 1.0f;
    const int32_t bits = (n + 127) << 23; /* 2^n, n in [-126, 0] */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x < -87.0f ? 0.0f : er * scale;
}

#endif
