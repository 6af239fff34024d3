#include "engine/ops/matvec.h"

#include <stdbool.h>
#include <string.h>

#include "engine/ops/cpu.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX512_PATH 1
#endif

enum { LANES = 16 };

/* Below this many weights a matrix is not worth waking the thread pool. */
#define PARALLEL_MIN_WEIGHTS (1 << 16)

static inline float widen_bf16(uint16_t h)
{
    const uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* ((s0+s8) + (s4+s12)) + ((s2+s10) + (s6+s14)) + ... : halves, then quarters,
 * eighths, and the last pair. Both paths end here. */
static inline float reduce_lanes(const float acc[LANES])
{
    float s8[8], s4[4], s2[2];
    for (int l = 0; l < 8; l++) s8[l] = acc[l] + acc[l + 8];
    for (int l = 0; l < 4; l++) s4[l] = s8[l] + s8[l + 4];
    for (int l = 0; l < 2; l++) s2[l] = s4[l] + s4[l + 2];
    return s2[0] + s2[1];
}

/* ---- portable path: the order that defines the result ---- */

static float dot_row_portable(const struct weight *W, int64_t r, const float *x)
{
    const int64_t n = W->cols;
    float acc[LANES] = {0};
    if (W->bf16) {
        const uint16_t *w = W->bf16 + r * n;
        for (int64_t k = 0; k < n; k++) acc[k % LANES] += widen_bf16(w[k]) * x[k];
    } else {
        const float *w = W->f32 + r * n;
        for (int64_t k = 0; k < n; k++) acc[k % LANES] += w[k] * x[k];
    }
    return reduce_lanes(acc);
}

static void rows_portable(const struct weight *W, int64_t r0, int64_t r1, const float *x, float *y)
{
    for (int64_t r = r0; r < r1; r++) y[r] = dot_row_portable(W, r, x);
}

/* ---- AVX-512 path: four rows at a time share each load of x ---- */

#ifdef HAVE_AVX512_PATH
#define AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl")))

/* 16 weights of row r from column k, widened: the storage and the full mask
 * are compile-time constants in each caller below, so the inner loops carry
 * no branch and full vectors use plain (unmasked) loads. */
AVX512_TARGET static inline __m512 load_w(const void *base, bool bf16, int64_t cols, int64_t r, int64_t k, __mmask16 m)
{
    if (bf16) {
        const uint16_t *p = (const uint16_t *)base + r * cols + k;
        const __m256i h = m == 0xFFFF ? _mm256_loadu_si256((const __m256i *)p) : _mm256_maskz_loadu_epi16(m, p);
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    const float *p = (const float *)base + r * cols + k;
    return m == 0xFFFF ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m, p);
}

/* Software prefetch. Four rows are four streams per thread, which the
 * hardware prefetchers follow poorly, and a block of short rows ends before
 * they have caught up: the next block's rows then start with demand misses.
 * So, by the size of a 4-row block:
 *   up to NEXT_BLOCK_MAX_BYTES  the next block, in address order, into L2,
 *       spread over the current block's iterations (each consumes 64 elements
 *       of weights and asks for the next block's next 64);
 *   larger  each row's bytes PREFETCH_BYTES ahead into L1 (rows are
 *       contiguous: past a row's end this fetches the next row's start).
 * Row-ahead beat no prefetch by 8-20 % on every shape measured, next-block
 * beat row-ahead by 5-20 % on short rows and lost on wide ones, hence the
 * split (figures: docs/kernel-measurements.md). No prefetch reaches past
 * the matrix. */
#define PREFETCH_BYTES 1024
#define NEXT_BLOCK_MAX_BYTES (16 << 10)

/* always_inline: not inlined, a function doing nothing but prefetches is
 * "pure" to GCC, and its calls are deleted (measured: -O1 and above). */
AVX512_TARGET static inline __attribute__((always_inline)) void prefetch_rows(const char *p, int64_t row_bytes)
{
    _mm_prefetch(p, _MM_HINT_T0);
    _mm_prefetch(p + row_bytes, _MM_HINT_T0);
    _mm_prefetch(p + 2 * row_bytes, _MM_HINT_T0);
    _mm_prefetch(p + 3 * row_bytes, _MM_HINT_T0);
}

/* 64 elements' bytes (one or two cache lines per 16-element step) at p, into L2. */
AVX512_TARGET static inline __attribute__((always_inline)) void prefetch_next_block(const char *p, int64_t esize)
{
    for (int64_t line = 0; line < 64 * esize; line += 64) _mm_prefetch(p + line, _MM_HINT_T1);
}

AVX512_TARGET static inline __attribute__((always_inline)) void
rows_avx512_as(const void *base, bool bf16, int64_t n, int64_t rows, int64_t r0, int64_t r1, const float *x, float *y)
{
    const int64_t full = n - n % LANES, esize = bf16 ? 2 : 4, row_bytes = n * esize;
    const __mmask16 all = 0xFFFF, tail = (__mmask16)((1u << (n % LANES)) - 1u);
    const char *bytes = base;
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4) {
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        /* Prefetch only while the farthest address stays inside the matrix. */
        const bool next_block = 4 * row_bytes <= NEXT_BLOCK_MAX_BYTES;
        const bool next_inside = r + 8 <= rows;
        const int64_t pf_stop = (rows - r - 3) * row_bytes - PREFETCH_BYTES; /* bytes into row r */
        const char *next = bytes + (r + 4) * row_bytes;
        for (int64_t k = 0; k < full; k += LANES) {
            if (next_block) {
                if (next_inside) prefetch_next_block(next + 4 * k * esize, esize);
            } else if (k * esize < pf_stop) {
                prefetch_rows(bytes + r * row_bytes + k * esize + PREFETCH_BYTES, row_bytes);
            }
            const __m512 xv = _mm512_loadu_ps(x + k);
            a0 = _mm512_add_ps(a0, _mm512_mul_ps(load_w(base, bf16, n, r, k, all), xv));
            a1 = _mm512_add_ps(a1, _mm512_mul_ps(load_w(base, bf16, n, r + 1, k, all), xv));
            a2 = _mm512_add_ps(a2, _mm512_mul_ps(load_w(base, bf16, n, r + 2, k, all), xv));
            a3 = _mm512_add_ps(a3, _mm512_mul_ps(load_w(base, bf16, n, r + 3, k, all), xv));
        }
        if (tail) { /* lanes past the end keep their sums untouched (merge masking) */
            const __m512 xv = _mm512_maskz_loadu_ps(tail, x + full);
            a0 = _mm512_mask_add_ps(a0, tail, a0, _mm512_mul_ps(load_w(base, bf16, n, r, full, tail), xv));
            a1 = _mm512_mask_add_ps(a1, tail, a1, _mm512_mul_ps(load_w(base, bf16, n, r + 1, full, tail), xv));
            a2 = _mm512_mask_add_ps(a2, tail, a2, _mm512_mul_ps(load_w(base, bf16, n, r + 2, full, tail), xv));
            a3 = _mm512_mask_add_ps(a3, tail, a3, _mm512_mul_ps(load_w(base, bf16, n, r + 3, full, tail), xv));
        }
        float acc[4][LANES];
        _mm512_storeu_ps(acc[0], a0);
        _mm512_storeu_ps(acc[1], a1);
        _mm512_storeu_ps(acc[2], a2);
        _mm512_storeu_ps(acc[3], a3);
        for (int i = 0; i < 4; i++) y[r + i] = reduce_lanes(acc[i]);
    }
    for (; r < r1; r++) {
        __m512 a = _mm512_setzero_ps();
        for (int64_t k = 0; k < full; k += LANES)
            a = _mm512_add_ps(a, _mm512_mul_ps(load_w(base, bf16, n, r, k, all), _mm512_loadu_ps(x + k)));
        if (tail)
            a = _mm512_mask_add_ps(
                a, tail, a, _mm512_mul_ps(load_w(base, bf16, n, r, full, tail), _mm512_maskz_loadu_ps(tail, x + full)));
        float acc[LANES];
        _mm512_storeu_ps(acc, a);
        y[r] = reduce_lanes(acc);
    }
}

AVX512_TARGET static void rows_avx512(const struct weight *W, int64_t r0, int64_t r1, const float *x, float *y)
{
    if (W->bf16)
        rows_avx512_as(W->bf16, true, W->cols, W->rows, r0, r1, x, y);
    else
        rows_avx512_as(W->f32, false, W->cols, W->rows, r0, r1, x, y);
}
#endif

int matvec_uses_avx512(void)
{
#ifdef HAVE_AVX512_PATH
    return cpu_has_avx512();
#else
    return 0;
#endif
}

/* Splits the rows into blocks of four (the AVX-512 path's unit) over the
 * threads; which thread computes a row never changes its bits. */
static void matvec_split(const struct weight *W, const float *x, float *y,
                         void (*rows)(const struct weight *, int64_t, int64_t, const float *, float *))
{
    const int64_t blocks = (W->rows + 3) / 4;
    if (W->rows * W->cols < PARALLEL_MIN_WEIGHTS) {
        rows(W, 0, W->rows, x, y);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < blocks; b++) {
        const int64_t r0 = 4 * b, r1 = r0 + 4 < W->rows ? r0 + 4 : W->rows;
        rows(W, r0, r1, x, y);
    }
}

void matvec_portable(const struct weight *W, const float *x, float *y)
{
    matvec_split(W, x, y, rows_portable);
}

void matvec(const struct weight *W, const float *x, float *y)
{
#ifdef HAVE_AVX512_PATH
    if (matvec_uses_avx512()) {
        matvec_split(W, x, y, rows_avx512);
        return;
    }
#endif
    matvec_split(W, x, y, rows_portable);
}

void weight_rows_to_f32(const struct weight *W, int64_t r0, int64_t n, float *out)
{
    const int64_t cols = W->cols;
    if (W->f32) {
        memcpy(out, W->f32 + r0 * cols, (size_t)(n * cols) * sizeof(float));
        return;
    }
#pragma omp parallel for schedule(static) if (n * cols >= PARALLEL_MIN_WEIGHTS)
    for (int64_t r = 0; r < n; r++) {
        const uint16_t *src = W->bf16 + (r0 + r) * cols;
        float *dst = out + r * cols;
        for (int64_t k = 0; k < cols; k++) dst[k] = widen_bf16(src[k]);
    }
}
