/* The routing lens (engine/lens.h) on the golden models:
 *  - every attention row is a probability distribution over the positions the
 *    query may see (zero after P, and outside a sliding window);
 *  - the rows do not depend on how the prompt was batched (P in the first
 *    micro-batch or behind the KV cache and its ring buffer);
 *  - lightning contributions are finite and non-negative, and likewise
 *    independent of batching (their two passes see the same q, k, v).
 *   test_lens GOLDENS_DIR */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/lens.h"
#include "engine/model.h"
#include "engine/session.h"
#include "tests/test_util.h"

static void check_model(const char *goldens, const char *name, int64_t P)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", goldens, name);
    struct model m;
    struct hr_error e;
    if (model_load(dir, &m, &e)) {
        CHECK(0, "%s", e.msg);
        return;
    }
    int32_t *ids = malloc((size_t)(P + 1) * sizeof *ids);
    for (int64_t i = 0; i <= P; i++) ids[i] = (int32_t)((i * 131 + 7) % m.cfg.vocab_size);
    struct lens a, b;
    if (lens_run(&m, ids, P, 0, &a, &e) || lens_run(&m, ids, P, 64, &b, &e)) {
        CHECK(0, "%s", e.msg);
        return;
    }
    double worst_sum = 0, worst_batch = 0;
    int attn_layers = 0, contrib_layers = 0;
    for (int i = 0; i < a.num_layers; i++) {
        const int64_t row = P + 1;
        if (a.attn[i]) {
            attn_layers++;
            const int W = m.layers[i].window;
            for (int h = 0; h < a.heads[i]; h++) {
                const float *r = a.attn[i] + h * row;
                double sum = 0;
                for (int64_t j = 0; j <= P; j++) {
                    CHECK(r[j] >= 0 && isfinite(r[j]), "%s layer %d: probability %g", name, i, r[j]);
                    if (W > 0 && j < P - W + 1) CHECK(r[j] == 0, "%s layer %d: mass outside the window", name, i);
                    sum += r[j];
                }
                worst_sum = fmax(worst_sum, fabs(sum - 1));
            }
            worst_batch = fmax(worst_batch, max_abs_diff(a.attn[i], b.attn[i], a.heads[i] * row));
        }
        if (a.contrib[i]) {
            contrib_layers++;
            for (int64_t j = 0; j < a.heads[i] * row; j++)
                CHECK(a.contrib[i][j] >= 0 && isfinite(a.contrib[i][j]), "%s layer %d: contribution %g", name, i,
                      a.contrib[i][j]);
            double scale = max_abs(a.contrib[i], a.heads[i] * row);
            worst_batch =
                fmax(worst_batch, max_abs_diff(a.contrib[i], b.contrib[i], a.heads[i] * row) / (scale ? scale : 1));
        }
    }
    printf("%-12s P=%lld: %d attention layers (rows sum to 1 within %.1g), %d lightning layers; batch 512 vs 64 "
           "max diff %.2g\n",
           name, (long long)P, attn_layers, worst_sum, contrib_layers, worst_batch);
    CHECK(worst_sum < 1e-6, "%s: attention rows do not sum to 1 within 1e-6 (%g)", name, worst_sum);
    CHECK(worst_batch < 1e-4, "%s: the lens depends on batching (%g)", name, worst_batch);
    /* The lens only observes: logits with it attached (either pass) are those without it, bit for bit. */
    struct session s;
    const size_t V = (size_t)m.cfg.vocab_size;
    float *plain = malloc(V * sizeof(float)), *seen = malloc(V * sizeof(float));
    if (session_init(&s, &m, 0, &e) || session_forward(&s, ids, (int)(P + 1), plain, false, &e)) {
        CHECK(0, "%s", e.msg);
    } else {
        const struct session_observer observer = lens_observer(&a);
        for (a.pass = 1; a.pass <= 2; a.pass++) {
            session_reset(&s);
            session_set_observer(&s, &observer);
            if (session_forward(&s, ids, (int)(P + 1), seen, false, &e)) CHECK(0, "%s", e.msg);
            session_set_observer(&s, NULL);
            CHECK(memcmp(plain, seen, V * sizeof(float)) == 0, "%s: the lens (pass %d) changed the logits", name,
                  a.pass);
        }
        session_free(&s);
    }
    free(plain), free(seen);
    lens_free(&a), lens_free(&b);
    free(ids);
    model_free(&m);
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    check_model(argv[1], "qwen3_swa", 299);  /* sliding window 64 and full attention */
    check_model(argv[1], "hypenet", 299);    /* lightning and position-free attention */
    check_model(argv[1], "minimax", 150);    /* lightning (fused) and full attention */
    check_model(argv[1], "qwen3_next", 100); /* delta-rule layers: attention only */
    return test_finish("test_lens");
}
