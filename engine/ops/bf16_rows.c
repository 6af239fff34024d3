#include "engine/ops/bf16_rows.h"

#include <math.h>

#include "engine/ops/cpu.h"
#include "engine/ops/dtype.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX512_PATH 1
#endif

/* The sixteen partial sums halved in the documented order. */
static float halve(float lane[16])
{
    for (int w = 8; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) lane[l] = lane[l] + lane[l + w];
    return lane[0];
}

void bf16_dot_rows_portable(const uint16_t *q, int heads, int group, int d, const uint16_t *k, int64_t ldk, int n,
                            float *S, int64_t lds)
{
    for (int h = 0; h < heads; h++)
        for (int j = 0; j < n; j++) {
            const uint16_t *qh = q + (int64_t)h * d, *kj = k + j * ldk + (int64_t)(h / group) * d;
            float lane[16] = {0};
            for (int c = 0; c < d; c++) lane[c & 15] = fmaf(bf16_to_f32(qh[c]), bf16_to_f32(kj[c]), lane[c & 15]);
            S[h * lds + j] = halve(lane);
        }
}

void bf16_weighted_rows_portable(const uint16_t *p, int64_t ldp, int heads, int group, const uint16_t *v, int64_t ldv,
                                 int n, int d, float *O)
{
    for (int h = 0; h < heads; h++)
        for (int c = 0; c < d; c++) {
            const uint16_t *vc = v + (int64_t)(h / group) * d + c;
            float s = O[(int64_t)h * d + c];
            for (int j = 0; j < n; j++) s = fmaf(bf16_to_f32(p[h * ldp + j]), bf16_to_f32(vc[j * ldv]), s);
            O[(int64_t)h * d + c] = s;
        }
}

#ifdef HAVE_AVX512_PATH
#define AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

/* The AVX-512 forms walk the cache 16 rows (scores) or ROWS rows (Σ p v) at
 * a time, every KV head of those rows before the next ones: reading each KV
 * head's slice of every row in a pass of its own (as one product per KV head
 * does) left the rows 2 KiB apart for the hardware prefetcher, and decode read
 * the cache at a third of the bandwidth. They take head_dim a multiple of 64
 * (every model here: 64, 128 or 256) and at most MAX_QUERY_FLOATS query
 * numbers; other shapes go to the portable loops. */
enum { ROWS = 4, HEADS_PER_PASS = 4, COLUMNS = 64, MAX_QUERY_FLOATS = 8192 };

/* Sixteen bfloat16 numbers widened to float32 (exactly). */
AVX512_TARGET static inline __m512 widen16(const uint16_t *h)
{
    const __m512i u = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)h));
    return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
}

/* halve() on a register: lanes l + l + 8, then + 4, + 2, + 1. */
AVX512_TARGET static inline float halve16(__m512 v)
{
    const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

/* halve16 of sixteen registers at once, the same additions in the same order
 * for each (so the same bits), shared among them by shuffles: each step adds
 * the upper half of every partial-sum group to its lower half, packing two
 * registers' halves into one. Afterwards lane 4b + m holds acc[b + 4m]'s sum.
 * 15 additions and 30 shuffles for 16 sums, against 7 operations for each. */
AVX512_TARGET static inline __m512 halve16x16(const __m512 acc[16])
{
    __m512 t[8], u[4], v[2];
    for (int p = 0; p < 8; p++) /* lanes l + l + 8 */
        t[p] = _mm512_add_ps(_mm512_shuffle_f32x4(acc[2 * p], acc[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_f32x4(acc[2 * p], acc[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    for (int q = 0; q < 4; q++) /* + 4: block b of u[q] is acc[4q + b]'s */
        u[q] = _mm512_add_ps(_mm512_shuffle_f32x4(t[2 * q], t[2 * q + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(t[2 * q], t[2 * q + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    for (int w = 0; w < 2; w++) /* + 2 */
        v[w] = _mm512_add_ps(_mm512_shuffle_ps(u[2 * w], u[2 * w + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(u[2 * w], u[2 * w + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm512_add_ps(_mm512_shuffle_ps(v[0], v[1], _MM_SHUFFLE(2, 0, 2, 0)), /* + 1 */
                         _mm512_shuffle_ps(v[0], v[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

/* One score by the definition's order: a single key row against one head. */
AVX512_TARGET static inline float dot_row(const float *qf, int d, const uint16_t *kr)
{
    __m512 a = _mm512_setzero_ps();
    for (int c = 0; c < d; c += 16) a = _mm512_fmadd_ps(_mm512_loadu_ps(qf + c), widen16(kr + c), a);
    return halve16(a);
}

/* Scores of gn heads (1-4, query rows qf, widened) against 16 / gn key rows
 * kr: sixteen independent chains (accumulator g + gn·r), summed together.
 * gn is a constant where it is called, so the loops unroll into registers. */
AVX512_TARGET static inline __attribute__((always_inline)) void
dot_tile(const float *qf, const int gn, int d, const uint16_t *kr, int64_t ldk, float *S, int64_t lds)
{
    const int R = 16 / gn;
    __m512 acc[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_ps();
    for (int c = 0; c < d; c += 16) {
        __m512 x[4];
#pragma GCC unroll 4
        for (int g = 0; g < gn; g++) x[g] = _mm512_loadu_ps(qf + (int64_t)g * d + c);
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) {
            const __m512 kv = widen16(kr + r * ldk + c);
#pragma GCC unroll 4
            for (int g = 0; g < gn; g++) acc[g + gn * r] = _mm512_fmadd_ps(x[g], kv, acc[g + gn * r]);
        }
    }
    float lanes[16];
    _mm512_storeu_ps(lanes, halve16x16(acc));
    for (int r = 0; r < R; r++)
        for (int g = 0; g < gn; g++) {
            const int i = g + gn * r;
            S[g * lds + r] = lanes[4 * (i % 4) + i / 4];
        }
}

/* 16 rows (in L1 while every KV head's heads take them) or a single row. */
AVX512_TARGET static void dot_group(const float *qf, int gn, int d, const uint16_t *kr, int64_t ldk, int rows, float *S,
                                    int64_t lds)
{
    int r0 = 0;
    if (rows == 16) {
        const int R = 16 / gn;
        for (; r0 + R <= 16; r0 += R) switch (gn) {
            case 1: dot_tile(qf, 1, d, kr + r0 * ldk, ldk, S + r0, lds); break;
            case 2: dot_tile(qf, 2, d, kr + r0 * ldk, ldk, S + r0, lds); break;
            case 3: dot_tile(qf, 3, d, kr + r0 * ldk, ldk, S + r0, lds); break;
            default: dot_tile(qf, 4, d, kr + r0 * ldk, ldk, S + r0, lds); break;
            }
    }
    for (; r0 < rows; r0++)
        for (int g = 0; g < gn; g++) S[g * lds + r0] = dot_row(qf + (int64_t)g * d, d, kr + r0 * ldk);
}

AVX512_TARGET static void dot_rows_avx512(const uint16_t *q, int heads, int group, int d, const uint16_t *k,
                                          int64_t ldk, int n, float *S, int64_t lds)
{
    float qf[MAX_QUERY_FLOATS];
    for (int i = 0; i < heads * d; i += 16) _mm512_storeu_ps(qf + i, widen16(q + i));
    for (int j = 0; j < n;) {
        const int rows = n - j >= 16 ? 16 : 1;
        for (int kvh = 0; kvh < heads / group; kvh++)
            for (int g0 = 0; g0 < group; g0 += HEADS_PER_PASS) {
                const int h0 = kvh * group + g0, gn = group - g0 < HEADS_PER_PASS ? group - g0 : HEADS_PER_PASS;
                dot_group(qf + (int64_t)h0 * d, gn, d, k + j * ldk + (int64_t)kvh * d, ldk, rows, S + h0 * lds + j,
                          lds);
            }
        j += rows;
    }
}

/* O of up to HEADS_PER_PASS heads, COLUMNS columns, += the terms of `rows`
 * (1 or ROWS) value rows, row by row: each output's chain in ascending j. */
AVX512_TARGET static inline void weighted_pass(const uint16_t *p, int64_t ldp, int gn, const uint16_t *vr, int64_t ldv,
                                               int rows, int d, float *O)
{
    __m512 v[ROWS][4];
    for (int r = 0; r < ROWS; r++)
        if (r < rows)
            for (int i = 0; i < 4; i++) v[r][i] = widen16(vr + r * ldv + 16 * i);
    for (int g = 0; g < HEADS_PER_PASS; g++) {
        if (g >= gn) break;
        float *o = O + (int64_t)g * d;
        __m512 acc[4];
        for (int i = 0; i < 4; i++) acc[i] = _mm512_loadu_ps(o + 16 * i);
        for (int r = 0; r < ROWS; r++) {
            if (r >= rows) break;
            const __m512 w = _mm512_castsi512_ps(_mm512_set1_epi32((int32_t)((uint32_t)p[g * ldp + r] << 16)));
            for (int i = 0; i < 4; i++) acc[i] = _mm512_fmadd_ps(w, v[r][i], acc[i]);
        }
        for (int i = 0; i < 4; i++) _mm512_storeu_ps(o + 16 * i, acc[i]);
    }
}

AVX512_TARGET static void weighted_rows_avx512(const uint16_t *p, int64_t ldp, int heads, int group, const uint16_t *v,
                                               int64_t ldv, int n, int d, float *O)
{
    for (int j = 0; j < n;) {
        const int rows = n - j >= ROWS ? ROWS : 1;
        for (int kvh = 0; kvh < heads / group; kvh++)
            for (int g0 = 0; g0 < group; g0 += HEADS_PER_PASS) {
                const int h0 = kvh * group + g0, gn = group - g0 < HEADS_PER_PASS ? group - g0 : HEADS_PER_PASS;
                for (int c0 = 0; c0 < d; c0 += COLUMNS)
                    weighted_pass(p + h0 * ldp + j, ldp, gn, v + j * ldv + (int64_t)kvh * d + c0, ldv, rows, d,
                                  O + (int64_t)h0 * d + c0);
            }
        j += rows;
    }
}
#endif

void bf16_dot_rows(const uint16_t *q, int heads, int group, int d, const uint16_t *k, int64_t ldk, int n, float *S,
                   int64_t lds)
{
#ifdef HAVE_AVX512_PATH
    if (cpu_has_avx512() && d % COLUMNS == 0 && heads * d <= MAX_QUERY_FLOATS) {
        dot_rows_avx512(q, heads, group, d, k, ldk, n, S, lds);
        return;
    }
#endif
    bf16_dot_rows_portable(q, heads, group, d, k, ldk, n, S, lds);
}

void bf16_weighted_rows(const uint16_t *p, int64_t ldp, int heads, int group, const uint16_t *v, int64_t ldv, int n,
                        int d, float *O)
{
#ifdef HAVE_AVX512_PATH
    if (cpu_has_avx512() && d % COLUMNS == 0) {
        weighted_rows_avx512(p, ldp, heads, group, v, ldv, n, d, O);
        return;
    }
#endif
    bf16_weighted_rows_portable(p, ldp, heads, group, v, ldv, n, d, O);
}
