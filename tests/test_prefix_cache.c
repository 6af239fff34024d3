/* Prefix reuse must give a cold prefill's bits: for prompts that share
 * beginnings of every length (inside the first snapshot, across several,
 * the whole previous prompt, nothing), fed in an order that moves the
 * common prefix up and down, the last prompt row and the decode steps after
 * it equal those of a fresh session fed the same prompt; and the cache must
 * really have skipped tokens (else the comparison proves nothing).
 * Sliding-window rings (qwen3_swa), lightning states (minimax, hypenet),
 * gated-delta states and convolution tails (qwen3_next, jet_nemotron). */
#include <stdlib.h>
#include <string.h>

#include "engine/model.h"
#include "engine/ops/cpu.h"
#include "engine/prefix_cache.h"
#include "engine/session.h"
#include "tests/test_util.h"

enum { BATCH = 16, BASE_LEN = 300, STEPS = 4 };

static uint32_t rng = 2024;
static int32_t draw(int V)
{
    return (int32_t)((rng = rng * 1664525u + 1013904223u) >> 8) % V;
}

/* Last prompt row and STEPS greedy decode rows [(1 + STEPS), V] after it. */
static void decode_after(struct session *s, float *rows, int V)
{
    struct hr_error e;
    for (int i = 0; i < STEPS; i++) {
        int32_t next = 0;
        for (int j = 1; j < V; j++)
            if (rows[(int64_t)i * V + j] > rows[(int64_t)i * V + next]) next = j;
        if (session_forward(s, &next, 1, rows + (int64_t)(i + 1) * V, false, &e) != 0) {
            fprintf(stderr, "%s\n", e.msg);
            exit(1);
        }
    }
}

/* Runs the prompt sequence through one cache of the given budget; returns
 * the tokens it reused. */
static int64_t check_sequence(const struct model *m, const int32_t *base, int64_t budget, const char *label)
{
    const int V = m->cfg.vocab_size;
    /* (shared prefix with base, prompt length): first, deeper, shallower, the
     * same prompt again, nothing shared, inside the first snapshot, past the
     * previous prompt's end. */
    const int plan[][2] = {{200, 260}, {290, 320}, {70, 240}, {-1, 240}, {0, 150}, {9, 200}, {300, 300}, {120, 121}};
    const int num = (int)(sizeof plan / sizeof plan[0]);
    struct session cold, warm;
    struct prefix_cache pc;
    struct hr_error e;
    if (session_init(&cold, m, BATCH, &e) || session_init(&warm, m, BATCH, &e) ||
        prefix_cache_init(&pc, &warm, BASE_LEN, budget, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
    float *a = malloc((size_t)(1 + STEPS) * V * sizeof(float)), *b = malloc((size_t)(1 + STEPS) * V * sizeof(float));
    int32_t *ids = malloc(400 * sizeof *ids);
    int64_t reused_before = 0, previous_n = 0;
    int32_t *previous = malloc(400 * sizeof *previous);
    for (int p = 0; p < num; p++) {
        const int shared = plan[p][0], n = plan[p][1];
        if (shared < 0) { /* the previous prompt again */
            memcpy(ids, previous, (size_t)n * sizeof *ids);
        } else {
            memcpy(ids, base, (size_t)shared * sizeof *ids);
            for (int i = shared; i < n; i++) ids[i] = draw(V);
            if (shared < n && shared < BASE_LEN && ids[shared] == base[shared]) ids[shared] = (base[shared] + 1) % V;
        }

        session_reset(&cold);
        if (session_forward(&cold, ids, n, a, false, &e) || prefix_cache_prefill(&pc, ids, n, b, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            exit(1);
        }
        decode_after(&cold, a, V);
        decode_after(&warm, b, V);
        const bool same = memcmp(a, b, (size_t)(1 + STEPS) * V * sizeof(float)) == 0;
        int64_t lcp = 0;
        while (lcp < n && lcp < previous_n && ids[lcp] == previous[lcp]) lcp++;
        const int64_t reused = pc.reused_tokens - reused_before;
        printf("%s prompt %d (%d tokens, %lld shared with the previous): reused %lld, %s\n", label, p, n,
               (long long)lcp, (long long)reused, same ? "bit-identical" : "DIFFERENT");
        CHECK(same, "%s prompt %d: cached prefill differs from a cold one (max |diff| %g)", label, p,
              max_abs_diff(a, b, (int64_t)(1 + STEPS) * V));
        /* The cache restores the last snapshot inside the common prefix, short of the last token. */
        const int64_t usable = lcp < n - 1 ? lcp : n - 1;
        CHECK(reused <= usable && reused > usable - pc.spacing,
              "%s prompt %d: reused %lld of %lld usable (spacing %lld)", label, p, (long long)reused, (long long)usable,
              (long long)pc.spacing);
        reused_before = pc.reused_tokens;
        memcpy(previous, ids, (size_t)n * sizeof *ids);
        previous_n = n;
    }
    const int64_t total = pc.reused_tokens;
    printf("%s: spacing %lld tokens, %d snapshots of %lld floats at most, %lld of %lld prompt tokens reused\n", label,
           (long long)pc.spacing, pc.max_snapshots, (long long)pc.snapshot_floats, (long long)total,
           (long long)pc.prompt_tokens);
    free(a), free(b), free(ids), free(previous);
    prefix_cache_free(&pc);
    session_free(&cold);
    session_free(&warm);
    return total;
}

int main(int argc, char **argv)
{
    cpu_select_openblas_core(argv);
    if (argc < 2) return 2;
    if (argc > 2 && strcmp(argv[2], "bf16-compute") == 0) { /* bf16 caches: a ring's snapshot is its bf16 rows */
        struct hr_error e0;
        if (linear_set_compute(COMPUTE_BF16, &e0)) return 1;
    }
    struct model m;
    struct hr_error e;
    if (model_load(argv[1], &m, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    int32_t base[BASE_LEN];
    for (int i = 0; i < BASE_LEN; i++) base[i] = draw(m.cfg.vocab_size);
    /* A snapshot at every micro-batch, then a budget of two snapshots (the
     * spacing grows to several batches). */
    const int64_t every = check_sequence(&m, base, PREFIX_CACHE_DEFAULT_BYTES, "every batch");
    struct session probe;
    if (session_init(&probe, &m, BATCH, &e)) return 1;
    const int64_t two = 2 * session_snapshot_floats(&probe) * (int64_t)sizeof(float);
    session_free(&probe);
    const int64_t coarse = check_sequence(&m, base, two > 0 ? two : 1, "two snapshots");
    CHECK(every > 0 && coarse > 0, "the cache reused nothing (%lld, %lld tokens)", (long long)every, (long long)coarse);
    model_free(&m);
    return test_finish("test_prefix_cache");
}
