/* HyPE query scaling (engine/ops/hype.h), against values computed independently:
 *   - s_t = ln(t + A)/ln(A) at the research notes' test points for A = 500
 *     (s_0 = 1, s_1023 = 1.179228, s_262143 = 2.007939);
 *   - scaled queries are bfloat16 values within bf16's half-ulp of q · s_t
 *     computed in double (bf16 keeps 8 significant bits: half an ulp is 2^-8);
 *   - attn_logits_scaling spellings: null, a number, "hype", "hype A" load as
 *     such on the softmax layers only; anything else is refused naming the field.
 * The end-to-end check is golden_long_hypenet_hype (the published code's logits). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/files.h"
#include "engine/model.h"
#include "engine/ops/dtype.h"
#include "engine/ops/hype.h"
#include "tests/test_util.h"

static void check_factors(void)
{
    const struct {
        int64_t t;
        double want;
    } points[] = {{0, 1.0}, {1023, 1.179228}, {262143, 2.007939}};
    for (size_t i = 0; i < sizeof points / sizeof *points; i++) {
        const float got = hype_factor(500, points[i].t);
        printf("  s_%lld (A = 500) = %.7f (reference %.6f)\n", (long long)points[i].t, got, points[i].want);
        CHECK(fabs(got - points[i].want) <= 1e-6, "s_%lld = %.7f, reference %.6f", (long long)points[i].t, got,
              points[i].want);
    }
}

static void check_scaled_queries(void)
{
    enum { N = 5, H = 3, D = 8 };
    float q[N * H * D], q0[N * H * D];
    uint32_t x = 99;
    for (int i = 0; i < N * H * D; i++) q0[i] = q[i] = (float)((x = x * 1664525u + 1013904223u) >> 8) / 8388608.0f - 1;
    const struct query_scaling hype = {QUERY_SCALING_HYPE, 300};
    const int64_t pos0 = 4000;
    query_scaling_apply(&hype, q, N, H, D, pos0);
    double worst = 0;
    bool rounded = true;
    for (int t = 0; t < N; t++)
        for (int i = 0; i < H * D; i++) {
            const double want = (double)q0[t * H * D + i] * (log((double)(pos0 + t) + 300) / log(300.0));
            const float got = q[t * H * D + i];
            rounded &= bf16_to_f32(f32_to_bf16(got)) == got;
            worst = fmax(worst, fabs(got - want) / fabs(want));
        }
    printf("  scaled queries: bf16 values %s, max relative error %.2e (bf16 half-ulp 2^-8 = %.2e)\n",
           rounded ? "yes" : "NO", worst, 0x1p-8);
    CHECK(rounded, "scaled queries are not bfloat16 values");
    CHECK(worst <= 0x1p-8 * (1 + 1e-6), "scaled queries off by %.3g relative", worst);
    const struct query_scaling none = {QUERY_SCALING_NONE, 0};
    memcpy(q, q0, sizeof q);
    query_scaling_apply(&none, q, N, H, D, pos0);
    CHECK(memcmp(q, q0, sizeof q) == 0, "no scaling changed the queries");
}

/* The config of MODEL_DIR with attn_logits_scaling replaced by `spelling`
 * (JSON text), planned; *kind and *value from its first softmax layer. */
static int plan_with(const char *model_dir, const char *spelling, enum query_scaling_kind *kind, double *value,
                     struct hr_error *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", model_dir);
    long len;
    char *text = read_text_file(path, &len, e);
    if (!text) return -1;
    const char *field = "\"attn_logits_scaling\": \"hype 300\"";
    char *at = strstr(text, field);
    CHECK(at != NULL, "%s lacks %s", path, field);
    if (!at) return free(text), -1;
    char *dir = make_temp_dir("hype"), out[4200];
    snprintf(out, sizeof out, "%s/config.json", dir);
    FILE *f = fopen(out, "wb");
    fprintf(f, "%.*s\"attn_logits_scaling\": %s%s", (int)(at - text), text, spelling, at + strlen(field));
    fclose(f);
    free(text);
    struct model m;
    struct wanted_tensor *wanted;
    int rc = model_plan(out, &m, &wanted, e);
    if (rc == 0) {
        *kind = QUERY_SCALING_NONE;
        for (int i = m.cfg.num_layers - 1; i >= 0; i--) {
            if (m.layers[i].mixer == MIXER_SOFTMAX_ATTENTION)
                *kind = m.layers[i].attn.q_scaling.kind, *value = m.layers[i].attn.q_scaling.value;
            else
                CHECK(m.layers[i].attn.q_scaling.kind == QUERY_SCALING_NONE, "lightning layer %d has a query scaling",
                      i);
        }
        wanted_tensors_free(wanted);
        model_free(&m);
    }
    remove_tree(dir);
    free(dir);
    return rc;
}

static void check_spellings(const char *model_dir)
{
    const struct {
        const char *spelling;
        enum query_scaling_kind kind;
        double value;
    } good[] = {{"\"hype 500\"", QUERY_SCALING_HYPE, 500},
                {"\"hype\"", QUERY_SCALING_HYPE, 362},
                {"\"hype 362.5\"", QUERY_SCALING_HYPE, 362.5},
                {"2.5", QUERY_SCALING_CONSTANT, 2.5},
                {"null", QUERY_SCALING_NONE, 0}};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        enum query_scaling_kind kind = -1;
        double value = 0;
        struct hr_error e;
        const int rc = plan_with(model_dir, good[i].spelling, &kind, &value, &e);
        CHECK(rc == 0 && kind == good[i].kind && (kind == QUERY_SCALING_NONE || value == good[i].value),
              "attn_logits_scaling %s: rc %d kind %d value %g (%s)", good[i].spelling, rc, (int)kind, value,
              rc ? e.msg : "");
    }
    const char *bad[] = {"\"hype x\"",     "[\"hype\"]", "\"hype 1\"", "\"logn 500\"", "-1",
                         "\"hype 500 7\"", "\"hype \"",  "\"hypex\"",  "true"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        enum query_scaling_kind kind;
        double value;
        struct hr_error e = {{0}};
        const int rc = plan_with(model_dir, bad[i], &kind, &value, &e);
        CHECK(rc != 0 && strstr(e.msg, "field 'attn_logits_scaling'"), "attn_logits_scaling %s: %s", bad[i],
              rc ? e.msg : "accepted");
        if (i == 0) printf("  refused, e.g.: %s\n", e.msg);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_hype HYPENET_HYPE_MODEL_DIR\n");
        return 2;
    }
    check_factors();
    check_scaled_queries();
    check_spellings(argv[1]);
    return test_finish("test_hype");
}
