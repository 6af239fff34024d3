/* bf16_rows (engine/ops/bf16_rows.c), decode attention's bf16 products:
 *   - the dispatched form (AVX-512 where the CPU has it) gives the bits of the
 *     portable definition, for GQA groups of 1, 2, 3, 4 and 8 heads, head_dim
 *     64, 128 and 256 (and 80, which only the portable loops take), blocks of
 *     1 to 256 rows (tails of the four-row steps), rows strided as in the cache;
 *   - the definition is the exact sum of the bf16 products (a double-precision
 *     sum of exactly widened numbers) within the bound of a float32 sum of
 *     those terms, (number of additions) · 2^-24 · Σ|term|;
 *   - Σ p v over two consecutive runs of rows (a ring that wraps) gives the
 *     bits of one call over both. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ops/bf16_rows.h"
#include "engine/ops/dtype.h"
#include "tests/test_util.h"

static uint16_t random_bf16(uint64_t *s, float range)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return f32_to_bf16(((float)((*s >> 40) * (1.0 / 16777216.0)) - 0.5f) * 2.0f * range);
}

static uint16_t *random_rows(int64_t count, uint64_t *seed, float range)
{
    uint16_t *x = malloc((size_t)count * sizeof *x);
    for (int64_t i = 0; i < count; i++) x[i] = random_bf16(seed, range);
    return x;
}

static void one_shape(int heads, int group, int d, int n, uint64_t *seed, int *cases)
{
    const int kv_heads = heads / group;
    const int64_t ld = (int64_t)kv_heads * d + 16, lds = n + 3; /* padded, as strided views are */
    uint16_t *q = random_rows((int64_t)heads * d, seed, 2.0f), *k = random_rows(n * ld, seed, 2.0f);
    uint16_t *p = random_rows(heads * lds, seed, 1.0f);
    float *fast = calloc((size_t)heads * lds, sizeof(float)), *slow = calloc((size_t)heads * lds, sizeof(float));
    bf16_dot_rows(q, heads, group, d, k, ld, n, fast, lds);
    bf16_dot_rows_portable(q, heads, group, d, k, ld, n, slow, lds);
    CHECK(memcmp(fast, slow, (size_t)heads * lds * sizeof(float)) == 0, "scores differ: heads %d group %d d %d n %d",
          heads, group, d, n);
    double worst = 0;
    for (int h = 0; h < heads; h++)
        for (int j = 0; j < n; j++) {
            double exact = 0, mag = 0;
            for (int c = 0; c < d; c++) {
                const double t = (double)bf16_to_f32(q[h * d + c]) * bf16_to_f32(k[j * ld + (h / group) * d + c]);
                exact += t, mag += fabs(t);
            }
            const double err = fabs(slow[h * lds + j] - exact), bound = d * ldexp(1.0, -24) * mag;
            if (err > bound) worst = err / bound > worst ? err / bound : worst;
        }
    CHECK(worst == 0, "scores off the exact sum by %.3g of the bound: heads %d d %d n %d", worst, heads, d, n);

    float *of = calloc((size_t)heads * d, sizeof(float)), *os = calloc((size_t)heads * d, sizeof(float));
    bf16_weighted_rows(p, lds, heads, group, k, ld, n, d, of);
    bf16_weighted_rows_portable(p, lds, heads, group, k, ld, n, d, os);
    CHECK(memcmp(of, os, (size_t)heads * d * sizeof(float)) == 0, "sums differ: heads %d group %d d %d n %d", heads,
          group, d, n);
    worst = 0;
    for (int h = 0; h < heads; h++)
        for (int c = 0; c < d; c++) {
            double exact = 0, mag = 0;
            for (int j = 0; j < n; j++) {
                const double t = (double)bf16_to_f32(p[h * lds + j]) * bf16_to_f32(k[j * ld + (h / group) * d + c]);
                exact += t, mag += fabs(t);
            }
            const double err = fabs(os[h * d + c] - exact), bound = n * ldexp(1.0, -24) * mag;
            if (err > bound) worst = err / bound > worst ? err / bound : worst;
        }
    CHECK(worst == 0, "sums off the exact sum by %.3g of the bound: heads %d d %d n %d", worst, heads, d, n);

    if (n > 1) { /* two runs, as a wrapped ring gives them */
        const int first = n / 3 + 1;
        float *split = calloc((size_t)heads * d, sizeof(float));
        bf16_weighted_rows(p, lds, heads, group, k, ld, first, d, split);
        bf16_weighted_rows(p + first, lds, heads, group, k + first * ld, ld, n - first, d, split);
        CHECK(memcmp(split, of, (size_t)heads * d * sizeof(float)) == 0, "two runs differ from one: n %d", n);
        free(split);
    }
    free(q), free(k), free(p), free(fast), free(slow), free(of), free(os);
    (*cases)++;
}

int main(void)
{
    uint64_t seed = 11;
    int cases = 0;
    const int shapes[][3] = {{16, 2, 128}, {8, 8, 64}, {6, 3, 128}, {4, 1, 256}, {16, 4, 64}, {4, 2, 80}};
    const int lengths[] = {1, 2, 3, 4, 5, 7, 64, 255, 256};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++)
            one_shape(shapes[s][0], shapes[s][1], shapes[s][2], lengths[i], &seed, &cases);
    printf("%d shapes: dispatched form bit-identical to the definition, within the float32 bound\n", cases);
    return test_finish("test_bf16_rows");
}
