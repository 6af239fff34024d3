/* exp_row (engine/ops/exp_row.c) against its definition, exp_row_portable:
 *   - the AVX-512 form (where the CPU has it) gives the same bits, for the
 *     row and its sum, for every start and end of the visible range a, z
 *     (tails of 0-15 elements, groups of eight from an unaligned start);
 *   - every float in [-90, 0] stepped through both forms gives the same
 *     bits, and e^x within 4e-7 relative (a double-precision exp);
 *   - −∞ gives 0, as the masked scores of a softmax need;
 *   - exp_row_bf16 (both forms, same bits) is exp_row of the scaled row,
 *     rounded by f32_to_bf16, with the same sum. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ops/bf16_gemm.h"
#include "engine/ops/exp_row.h"
#include "tests/test_util.h"

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) * (1.0 / 16777216.0));
}

static void rows_match(void)
{
    uint64_t seed = 7;
    enum { N = 80 };
    float src[N], fast[N], slow[N];
    int cases = 0;
    for (int a = 0; a <= 20; a++)
        for (int z = a; z <= N; z++) {
            for (int j = 0; j < N; j++) src[j] = -40.0f * frand(&seed) + 3.0f;
            const float mx = 3.0f;
            memcpy(fast, src, sizeof src);
            memcpy(slow, src, sizeof src);
            const float sf = exp_row(fast, N, a, z, mx), ss = exp_row_portable(slow, N, a, z, mx);
            CHECK(memcmp(fast, slow, sizeof fast) == 0, "row differs at a=%d z=%d", a, z);
            CHECK(memcmp(&sf, &ss, sizeof sf) == 0, "sum differs at a=%d z=%d: %.9g vs %.9g", a, z, sf, ss);
            cases++;
            /* The bf16 form: scores scaled inside, probabilities rounded. */
            const float scale = 0.0883883f, smx = 3.0f * scale;
            uint16_t pf[N], ps[N], want[N];
            for (int j = 0; j < N; j++) slow[j] = src[j] * scale;
            const float sw = exp_row_portable(slow, N, a, z, smx);
            bf16_round(slow, N, want);
            const float bf = exp_row_bf16(src, N, a, z, scale, smx, pf),
                        bs = exp_row_bf16_portable(src, N, a, z, scale, smx, ps);
            CHECK(memcmp(pf, ps, sizeof pf) == 0, "bf16 row differs between forms at a=%d z=%d", a, z);
            CHECK(memcmp(&bf, &bs, sizeof bf) == 0, "bf16 sum differs between forms at a=%d z=%d", a, z);
            CHECK(memcmp(ps, want, sizeof ps) == 0, "bf16 row is not exp_row rounded at a=%d z=%d", a, z);
            CHECK(memcmp(&bs, &sw, sizeof bs) == 0, "bf16 sum is not exp_row's at a=%d z=%d", a, z);
        }
    printf("exp_row: %d ranges, %s form, same bits as exp_row_portable\n", cases,
           exp_row_uses_avx512() ? "AVX-512" : "portable");
}

/* Every representable float in [-90, 0], sixteen at a time through both. */
static void every_value(void)
{
    enum { W = 4096 };
    static float fast[W], slow[W];
    double worst = 0;
    int64_t count = 0;
    uint32_t bits = 0x80000000u; /* −0 */
    for (;;) {
        int k = 0;
        for (; k < W; k++, bits++) {
            float x;
            memcpy(&x, &bits, sizeof x);
            if (!(x >= -90.0f)) break;
            fast[k] = slow[k] = x;
        }
        if (k == 0) break;
        exp_row(fast, k, 0, k, 0.0f);
        exp_row_portable(slow, k, 0, k, 0.0f);
        CHECK(memcmp(fast, slow, (size_t)k * sizeof(float)) == 0, "values near bits 0x%08x differ", bits);
        for (int i = 0; i < k; i++) {
            float x;
            const uint32_t b = bits - (uint32_t)k + (uint32_t)i;
            memcpy(&x, &b, sizeof x);
            if (x < -87.0f) {
                CHECK(slow[i] == 0.0f, "e^%g is not 0", x);
                continue;
            }
            const double want = exp((double)x), rel = fabs(slow[i] - want) / want;
            if (rel > worst) worst = rel;
        }
        count += k;
        if (k < W) break;
    }
    CHECK(worst < 4e-7, "max relative error %.3g", worst);
    float inf[17];
    for (int i = 0; i < 17; i++) inf[i] = -INFINITY;
    exp_row(inf, 17, 0, 17, 0.0f);
    for (int i = 0; i < 17; i++) CHECK(inf[i] == 0.0f, "e^-inf = %g at %d", inf[i], i);
    printf("exp_row: %lld values in [-90, 0], same bits in both forms, max relative error %.3g\n", (long long)count,
           worst);
}

int main(void)
{
    rows_match();
    every_value();
    return test_finish("exp_row");
}
