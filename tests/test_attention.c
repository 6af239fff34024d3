/* The cached attention (the fast path used by prefill and decode) against
 * the plain O(T²) form, for full and sliding windows, fed in uneven batches
 * so that ring-buffer wrap-around and batch boundaries are exercised; on one
 * and on two threads, which must give the same bits.
 *
 * Under bf16 compute (attention.h) the naive form is fed q, k and v rounded
 * to bfloat16, and the one rounding left, of the probabilities to bf16
 * (relative 2⁻⁹ each), moves an output by at most 2⁻⁹ · max|v| (the weights
 * sum to one): the check allows 2⁻⁸ · max|v|. The scores' float32 sums of
 * exact products are far inside that. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "engine/mixers/attention.h"
#include "engine/ops/bf16_gemm.h"
#include "engine/ops/dtype.h"
#include "engine/ops/kernels.h"
#include "tests/test_util.h"

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) / 16777216.0) * 2.0f - 1.0f;
}

static void round_to_bf16(float *x, int64_t count)
{
    for (int64_t i = 0; i < count; i++) x[i] = bf16_to_f32(f32_to_bf16(x[i]));
}

static void check_case_as(bool bf16, int n, int heads, int kv_heads, int d, int window, const int *batches, int nb)
{
    uint64_t seed = (uint64_t)(n * 131 + window * 7 + heads);
    const int64_t qn = (int64_t)n * heads * d, kn = (int64_t)n * kv_heads * d;
    float *q = malloc(qn * sizeof(float)), *k = malloc(kn * sizeof(float)), *v = malloc(kn * sizeof(float));
    for (int64_t i = 0; i < qn; i++) q[i] = 2.0f * frand(&seed);
    for (int64_t i = 0; i < kn; i++) k[i] = 2.0f * frand(&seed), v[i] = frand(&seed);
    float *ref = malloc(qn * sizeof(float)), *out = malloc(qn * sizeof(float));
    const float scale = 1.0f / sqrtf((float)d);
    if (bf16) {
        float *qr = malloc(qn * sizeof(float)), *kr = malloc(kn * sizeof(float)), *vr = malloc(kn * sizeof(float));
        memcpy(qr, q, qn * sizeof(float)), memcpy(kr, k, kn * sizeof(float)), memcpy(vr, v, kn * sizeof(float));
        round_to_bf16(qr, qn), round_to_bf16(kr, kn), round_to_bf16(vr, kn);
        attention_naive(qr, kr, vr, n, heads, kv_heads, d, window, scale, ref);
        free(qr), free(kr), free(vr);
    } else {
        attention_naive(q, k, v, n, heads, kv_heads, d, window, scale, ref);
    }

    /* The cached path twice: on two threads (checked against the naive form)
     * and on one (must give the same bits). */
    float *out_one = malloc(qn * sizeof(float));
    struct kv_cache c;
    struct workspace ws = {0};
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        if (threads == 2) kv_cache_free(&c);
        kv_cache_init(&c, window, kv_heads, d, bf16);
        float *dst = threads == 1 ? out_one : out;
        int pos = 0, bi = 0;
        while (pos < n) {
            int b = batches[bi % nb];
            if (b > n - pos) b = n - pos;
            bi++;
            if (workspace_reserve(&ws, threads, attention_workspace_floats(b, pos, window, heads, kv_heads, d, bf16)))
                abort();
            attention_forward(&c, q + (int64_t)pos * heads * d, k + (int64_t)pos * kv_heads * d,
                              v + (int64_t)pos * kv_heads * d, b, pos, heads, scale, dst + (int64_t)pos * heads * d,
                              NULL, &ws);
            pos += b;
        }
    }
    workspace_free(&ws);
    CHECK(memcmp(out, out_one, (size_t)qn * sizeof(float)) == 0, "cached attention: 1 and 2 threads differ");
    free(out_one);
    double diff = max_abs_diff(out, ref, qn);
    printf("  %s n=%4d heads=%d/%d d=%3d window=%3d batches=", bf16 ? "bf16" : "f32 ", n, heads, kv_heads, d, window);
    for (int i = 0; i < nb; i++) printf("%s%d", i ? "," : "", batches[i]);
    printf(": max |diff| %.2g, cache slots %lld\n", diff, (long long)c.slots);
    const double allowed = bf16 ? ldexp(1.0, -8) : 1e-5; /* max|v| is 1 */
    CHECK(diff <= allowed, "cached %s attention differs from naive by %g", bf16 ? "bf16" : "f32", diff);
    if (window)
        CHECK(c.slots == window, "sliding cache holds %lld slots, not the window %d", (long long)c.slots, window);
    kv_cache_free(&c);
    free(q), free(k), free(v), free(ref), free(out);
}

/* Each case under float32 and under bf16 compute. */
static void check_case(int n, int heads, int kv_heads, int d, int window, const int *batches, int nb)
{
    check_case_as(false, n, heads, kv_heads, d, window, batches, nb);
    check_case_as(true, n, heads, kv_heads, d, window, batches, nb);
}

/* The softmax's exponential (kernels.h) against libm's, in double, over its
 * whole domain: relative error below 4e-7, exactly 1 at 0, exactly 0 below −87. */
static void check_exp(void)
{
    double worst = 0;
    for (int i = 0; i <= 2000000; i++) {
        const float x = -87.0f * (float)i / 2000000.0f;
        const double want = exp((double)x), got = exp_nonpos_f32(x);
        worst = fmax(worst, fabs(got - want) / want);
    }
    CHECK(worst < 4e-7, "exp_nonpos_f32: max relative error %.3g", worst);
    CHECK(exp_nonpos_f32(0.0f) == 1.0f, "e^0 = %.9g", exp_nonpos_f32(0.0f));
    CHECK(exp_nonpos_f32(-87.5f) == 0.0f && exp_nonpos_f32(-INFINITY) == 0.0f, "below -87 is not 0");
    printf("exp_nonpos_f32: max relative error %.3g over [-87, 0]\n", worst);
}

int main(void)
{
    struct hr_error e;
    if (bf16_gemm_init(&e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    check_exp();
    const int one[] = {1}, prefill[] = {1000}, uneven[] = {37, 1, 5, 64, 3}, big_then_steps[] = {150, 1};
    check_case(200, 4, 2, 16, 0, prefill, 1);
    check_case(200, 4, 2, 16, 0, one, 1);
    check_case(200, 4, 2, 16, 0, uneven, 5);
    check_case(200, 4, 4, 32, 64, prefill, 1);
    check_case(200, 4, 2, 16, 64, one, 1);
    check_case(300, 8, 2, 16, 64, uneven, 5);
    check_case(300, 8, 1, 64, 17, big_then_steps, 2);
    check_case(10, 2, 1, 8, 64, uneven, 5);  /* shorter than the window */
    check_case(129, 6, 3, 24, 1, uneven, 5); /* window 1: each query sees itself only */
    /* Decode over spans of several 256-key blocks (attend_decode): full
     * attention after a long prefill, and a 300-key ring that wraps. */
    const int long_then_steps[] = {900, 1};
    check_case(1100, 4, 2, 16, 0, long_then_steps, 2);
    check_case(1100, 8, 2, 32, 300, one, 1);
    /* GQA groups of 6 (Jet-Nemotron's 12/2: four heads at a time, then one by
     * one) and 8 (Qwen3-Next's 16/2), head dims not a multiple of 32. */
    check_case(1100, 12, 2, 40, 0, long_then_steps, 2);
    check_case(1100, 16, 2, 72, 0, long_then_steps, 2);
    /* head_dim 128, where bf16 decode takes bf16_rows.c's AVX-512 form: full
     * attention over five blocks, and a 300-key ring that wraps inside one. */
    check_case(1100, 4, 2, 128, 0, long_then_steps, 2);
    check_case(700, 8, 4, 128, 300, one, 1);
    return test_finish("test_attention");
}
