/* The bfloat16 products of --compute bf16 (engine/ops/bf16_gemm.h, through
 * oneDNN) and linear() under COMPUTE_BF16 against their naive form, a
 * double-precision sum of the same bf16 x bf16 products:
 *   - bf16_gemm_nt within the bound of any float32 summation order,
 *     k · 2⁻²⁴ · Σ|x w| (Higham, Accuracy and Stability, §3.1: γ_{k−1}), on
 *     shapes with odd and unaligned sizes and an output row stride wider than
 *     the rows;
 *   - linear() under COMPUTE_BF16: x rounded to nearest even first, then the
 *     same bound, for BF16 and float32 storage of the same (bf16) values, over
 *     several row blocks; the two storages give the same bits, and 1, 2 and 3
 *     threads give the same bits;
 *   - a known case: products of ones sum to the column count exactly;
 *   - bf16_round is dtype.h's nearest-even rounding (a tie goes to even). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/error.h"
#include "engine/ops/bf16_gemm.h"
#include "engine/ops/cpu.h"
#include "engine/ops/dtype.h"
#include "engine/ops/ops.h"
#include "tests/test_util.h"

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) * (1.0 / 16777216.0)) - 0.5f;
}

static uint16_t *random_bf16(int64_t count, uint64_t seed)
{
    uint16_t *v = malloc((size_t)count * sizeof *v);
    for (int64_t i = 0; i < count; i++) v[i] = f32_to_bf16(4.0f * frand(&seed));
    return v;
}

/* max over outputs of |y - exact| / bound, exact the double sum of the bf16 products. */
static double worst_ratio(const uint16_t *x, int n, const uint16_t *w, int64_t rows, int64_t k, const float *y,
                          int64_t ldy)
{
    double worst = 0.0;
    for (int t = 0; t < n; t++)
        for (int64_t o = 0; o < rows; o++) {
            double exact = 0.0, mag = 0.0;
            for (int64_t c = 0; c < k; c++) {
                const double p = (double)bf16_to_f32(x[t * k + c]) * bf16_to_f32(w[o * k + c]);
                exact += p, mag += fabs(p);
            }
            const double bound = (double)k * ldexp(1.0, -24) * mag + 1e-30;
            const double r = fabs(y[t * ldy + o] - exact) / bound;
            if (r > worst) worst = r;
        }
    return worst;
}

static void check_gemm(int n, int64_t rows, int64_t k)
{
    uint16_t *x = random_bf16(n * k, 11 + (uint64_t)k), *w = random_bf16(rows * k, 97 + (uint64_t)rows);
    const int64_t ldy = rows + 3;
    float *y = calloc((size_t)(n * ldy), sizeof(float));
    bf16_gemm_nt(x, n, w, rows, k, y, ldy);
    const double r = worst_ratio(x, n, w, rows, k, y, ldy);
    CHECK(r <= 1.0, "bf16_gemm_nt n=%d rows=%lld k=%lld: error %.3g of the bound", n, (long long)rows, (long long)k, r);
    bool padding_untouched = true; /* the columns between rows and ldy */
    for (int t = 0; t < n; t++)
        for (int64_t o = rows; o < ldy; o++) padding_untouched &= y[t * ldy + o] == 0.0f;
    CHECK(padding_untouched, "bf16_gemm_nt wrote past its rows (n=%d rows=%lld)", n, (long long)rows);
    free(x), free(w), free(y);
}

/* linear() under COMPUTE_BF16 with threads 1, 2, 3, BF16 and float32 storage. */
static void check_linear(int n, int64_t rows, int64_t k)
{
    uint16_t *w = random_bf16(rows * k, 5 + (uint64_t)rows);
    float *w32 = malloc((size_t)(rows * k) * sizeof *w32), *x = malloc((size_t)(n * k) * sizeof *x);
    uint16_t *xb = malloc((size_t)(n * k) * sizeof *xb);
    for (int64_t i = 0; i < rows * k; i++) w32[i] = bf16_to_f32(w[i]);
    uint64_t seed = 3;
    for (int64_t i = 0; i < n * k; i++) x[i] = 3.0f * frand(&seed); /* not bf16 values: linear() rounds them */
    bf16_round(x, n * k, xb);
    const struct weight Wb = {.bf16 = w, .rows = rows, .cols = k}, Wf = {.f32 = w32, .rows = rows, .cols = k};
    struct workspace ws = {0};
    CHECK(workspace_reserve(&ws, 3, linear_workspace_floats(n, k)) == 0, "workspace");
    float *y[4];
    for (int i = 0; i < 4; i++) y[i] = malloc((size_t)(n * rows) * sizeof(float));
    cpu_set_threads(1);
    linear(x, n, &Wb, NULL, y[0], &ws);
    cpu_set_threads(2);
    linear(x, n, &Wb, NULL, y[1], &ws);
    cpu_set_threads(3);
    linear(x, n, &Wb, NULL, y[2], &ws);
    linear(x, n, &Wf, NULL, y[3], &ws);
    const size_t bytes = (size_t)(n * rows) * sizeof(float);
    const double r = worst_ratio(xb, n, w, rows, k, y[0], rows);
    printf("linear bf16 n=%d %lldx%lld: error %.3g of the bound\n", n, (long long)rows, (long long)k, r);
    CHECK(r <= 1.0, "linear() bf16 n=%d rows=%lld k=%lld: error %.3g of the bound", n, (long long)rows, (long long)k,
          r);
    CHECK(memcmp(y[0], y[1], bytes) == 0 && memcmp(y[0], y[2], bytes) == 0,
          "linear() bf16 n=%d rows=%lld: 1, 2 and 3 threads differ", n, (long long)rows);
    CHECK(memcmp(y[0], y[3], bytes) == 0, "linear() bf16 n=%d rows=%lld: BF16 and float32 storage differ", n,
          (long long)rows);
    for (int i = 0; i < 4; i++) free(y[i]);
    workspace_free(&ws);
    free(w), free(w32), free(x), free(xb);
}

static void check_ones(void)
{
    enum { K = 1000 };
    uint16_t x[K], w[4 * K];
    for (int i = 0; i < K; i++) x[i] = f32_to_bf16(1.0f);
    for (int i = 0; i < 4 * K; i++) w[i] = f32_to_bf16(1.0f);
    float y[4];
    bf16_gemm_nt(x, 1, w, 4, K, y, 4);
    for (int o = 0; o < 4; o++) CHECK(y[o] == (float)K, "row %d of ones: %g", o, y[o]);
}

static void check_round(void)
{
    const float values[] = {1.0f, -2.5f, 3.1415926f, 1e-30f, -0.0f, INFINITY};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        uint16_t out;
        bf16_round(&values[i], 1, &out);
        CHECK(out == f32_to_bf16(values[i]), "bf16_round(%g)", values[i]);
    }
    const float tie = 1.00390625f; /* 1 + 2^-8: halfway between 1 and 1 + 2^-7 */
    uint16_t r;
    bf16_round(&tie, 1, &r);
    CHECK(bf16_to_f32(r) == 1.0f, "the tie 1 + 2^-8 rounded to %g, not 1 (even)", bf16_to_f32(r));
}

int main(void)
{
    struct hr_error e;
    if (linear_set_compute(COMPUTE_BF16, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    printf("oneDNN bf16 matmul: %s\n", bf16_gemm_isa());
    check_round();
    check_ones();
    const int ns[] = {1, 3, 70};
    const int64_t rows[] = {1, 5, 67};
    const int64_t ks[] = {1, 2, 33, 250, 2048};
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
        for (size_t b = 0; b < sizeof rows / sizeof *rows; b++)
            for (size_t c = 0; c < sizeof ks / sizeof *ks; c++) check_gemm(ns[a], rows[b], ks[c]);
    /* linear(): one block, and several (blocks of at most LINEAR_BLOCK_MAX_ROWS rows) */
    check_linear(1, 300, 256);
    check_linear(37, 300, 256);
    check_linear(200, 2500, 96);
    return test_finish("bf16_gemm");
}
