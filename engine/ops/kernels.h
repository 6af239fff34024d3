/* Small vector kernels with a fixed summation order: eight independent
 * partial sums combined pairwise. The order never depends on threads or on
 * how the compiler vectorises, so results are bit-reproducible. */
#ifndef HYRECALL_KERNELS_H
#define HYRECALL_KERNELS_H

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static inline float dot_f32(const float *a, const float *b, int64_t n)
{
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) acc[l] += a[i + l] * b[i + l];
    for (; i < n; i++) acc[i & 7] += a[i] * b[i];
    return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

/* out[g] = dot_f32(a + g·lda, b, n) for g < 4: four dot products against one
 * shared vector, interleaved so that their four dependency chains overlap
 * (one dot_f32 is a single chain of n/8 additions, latency-bound). Each is
 * computed with exactly dot_f32's operations in dot_f32's order (partial sum
 * l of head g in lane l % 4 of register l / 4): the same bits. SSE2
 * intrinsics (every x86-64 has them): left to itself the compiler kept the
 * 32 partial sums on the stack. Decode attention's scores: the query heads of
 * a GQA group against one cached key. */
static inline void dot4_f32_shared(const float *a, int64_t lda, const float *b, int64_t n, float out[4])
{
    const float *r[4] = {a, a + lda, a + 2 * lda, a + 3 * lda};
    float acc[4][8];
    int64_t i = 0;
#if defined(__SSE2__)
    __m128 lo0 = _mm_setzero_ps(), hi0 = lo0, lo1 = lo0, hi1 = lo0, lo2 = lo0, hi2 = lo0, lo3 = lo0, hi3 = lo0;
    for (; i + 8 <= n; i += 8) {
        const __m128 bl = _mm_loadu_ps(b + i), bh = _mm_loadu_ps(b + i + 4);
        lo0 = _mm_add_ps(lo0, _mm_mul_ps(_mm_loadu_ps(r[0] + i), bl));
        hi0 = _mm_add_ps(hi0, _mm_mul_ps(_mm_loadu_ps(r[0] + i + 4), bh));
        lo1 = _mm_add_ps(lo1, _mm_mul_ps(_mm_loadu_ps(r[1] + i), bl));
        hi1 = _mm_add_ps(hi1, _mm_mul_ps(_mm_loadu_ps(r[1] + i + 4), bh));
        lo2 = _mm_add_ps(lo2, _mm_mul_ps(_mm_loadu_ps(r[2] + i), bl));
        hi2 = _mm_add_ps(hi2, _mm_mul_ps(_mm_loadu_ps(r[2] + i + 4), bh));
        lo3 = _mm_add_ps(lo3, _mm_mul_ps(_mm_loadu_ps(r[3] + i), bl));
        hi3 = _mm_add_ps(hi3, _mm_mul_ps(_mm_loadu_ps(r[3] + i + 4), bh));
    }
    _mm_storeu_ps(acc[0], lo0), _mm_storeu_ps(acc[0] + 4, hi0), _mm_storeu_ps(acc[1], lo1);
    _mm_storeu_ps(acc[1] + 4, hi1), _mm_storeu_ps(acc[2], lo2), _mm_storeu_ps(acc[2] + 4, hi2);
    _mm_storeu_ps(acc[3], lo3), _mm_storeu_ps(acc[3] + 4, hi3);
#else
    memset(acc, 0, sizeof acc);
    for (; i + 8 <= n; i += 8)
        for (int g = 0; g < 4; g++)
            for (int l = 0; l < 8; l++) acc[g][l] += r[g][i + l] * b[i + l];
#endif
    for (; i < n; i++)
        for (int g = 0; g < 4; g++) acc[g][i & 7] += r[g][i] * b[i];
    for (int g = 0; g < 4; g++)
        out[g] =
            ((acc[g][0] + acc[g][4]) + (acc[g][2] + acc[g][6])) + ((acc[g][1] + acc[g][5]) + (acc[g][3] + acc[g][7]));
}

/* out[i] = Σ_j p[j] · rows[j][i] for i < d, j ascending from zero, each term
 * multiplied then added: exactly zeroing out and calling axpy_f32(p[j],
 * rows[j], out, d) for j = 0 .. n−1, but with 32 outputs held in registers
 * across all rows instead of out loaded and stored for every row. Decode
 * attention's weighted sum of cached values. */
static inline void weighted_rows_sum(const float *p, const float *const *rows, int64_t n, int64_t d, float *out)
{
    int64_t i = 0;
#if defined(__SSE2__)
    for (; i + 32 <= d; i += 32) {
        __m128 s0 = _mm_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
        for (int64_t j = 0; j < n; j++) {
            const __m128 w = _mm_set1_ps(p[j]);
            const float *x = rows[j] + i;
            s0 = _mm_add_ps(s0, _mm_mul_ps(w, _mm_loadu_ps(x)));
            s1 = _mm_add_ps(s1, _mm_mul_ps(w, _mm_loadu_ps(x + 4)));
            s2 = _mm_add_ps(s2, _mm_mul_ps(w, _mm_loadu_ps(x + 8)));
            s3 = _mm_add_ps(s3, _mm_mul_ps(w, _mm_loadu_ps(x + 12)));
            s4 = _mm_add_ps(s4, _mm_mul_ps(w, _mm_loadu_ps(x + 16)));
            s5 = _mm_add_ps(s5, _mm_mul_ps(w, _mm_loadu_ps(x + 20)));
            s6 = _mm_add_ps(s6, _mm_mul_ps(w, _mm_loadu_ps(x + 24)));
            s7 = _mm_add_ps(s7, _mm_mul_ps(w, _mm_loadu_ps(x + 28)));
        }
        _mm_storeu_ps(out + i, s0), _mm_storeu_ps(out + i + 4, s1), _mm_storeu_ps(out + i + 8, s2);
        _mm_storeu_ps(out + i + 12, s3), _mm_storeu_ps(out + i + 16, s4), _mm_storeu_ps(out + i + 20, s5);
        _mm_storeu_ps(out + i + 24, s6), _mm_storeu_ps(out + i + 28, s7);
    }
#endif
    for (; i < d; i++) {
        float s = 0.0f;
        for (int64_t j = 0; j < n; j++) s += p[j] * rows[j][i];
        out[i] = s;
    }
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
