/* hyrecall inspect MODEL_DIR: what the model is and what it will cost. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cli/cli.h"
#include "engine/hyrecall.h"
#include "stb_ds.h"

static const char *HELP =
    "usage: hyrecall inspect MODEL_DIR [--context N] [--threads N]\n"
    "       hyrecall inspect --diff A_DIR B_DIR [--top K]\n\n"
    "Loads MODEL_DIR (config.json + model.safetensors or its sharded index), validates every\n"
    "tensor against the config, and prints the architecture, the layer plan, tensor count and\n"
    "dtypes, parameters, bytes mapped, the context it was trained for (max_position_embeddings),\n"
    "and the memory one session needs at --context tokens (default: that trained context, else 32768).\n\n"
    "--diff compares two checkpoints of the same architecture (say base and fine-tuned): for every\n"
    "tensor |A-B|/|A| (Frobenius), and for the query/key projections also the largest principal angle\n"
    "(degrees) between the spans of their top-K right singular vectors (default K 8): the input\n"
    "directions each projection reads most. Listed in layer order within each group.\n\n"
    "exit codes: 0 ok, 1 invalid model, 2 usage error\n";

/* inspect --diff: which matrices fine-tuning moved, and how. */
static int diff_checkpoints(const char *a_dir, const char *b_dir, int k)
{
    struct model a, b;
    struct hr_error e;
    if (model_load(a_dir, &a, &e) != 0) {
        fprintf(stderr, "hyrecall inspect: %s\n", e.msg);
        return EXIT_RUNTIME;
    }
    if (model_load(b_dir, &b, &e) != 0) {
        fprintf(stderr, "hyrecall inspect: %s\n", e.msg);
        model_free(&a);
        return EXIT_RUNTIME;
    }
    int rc = EXIT_OK;
    if (strcmp(a.cfg.model_type, b.cfg.model_type) != 0 || st_tensor_count(&a.weights) != st_tensor_count(&b.weights)) {
        fprintf(stderr, "hyrecall inspect: %s and %s are not the same architecture and tensor set\n", a_dir, b_dir);
        rc = EXIT_RUNTIME;
    }
    printf("%-58s %12s %10s\n", "tensor", "|A-B|/|A|", "angle");
    for (int li = 0; rc == EXIT_OK && li < a.cfg.num_layers; li++) {
        struct qk_parts parts = {0};
        a.arch->qk_parts(&a.cfg, li, &parts, &e);
        for (int p = 0; p < parts.n; p++) {
            if (parts.part[p].role != QK_QUERY && parts.part[p].role != QK_KEY) continue;
            /* A fused projection (q and k rows in one tensor) is measured once, whole. */
            bool fused = p > 0 && strcmp(parts.part[p - 1].name, parts.part[p].name) == 0;
            if (fused) continue;
            fused = p + 1 < parts.n && strcmp(parts.part[p + 1].name, parts.part[p].name) == 0;
            const struct st_tensor *ta = st_find(&a.weights, parts.part[p].name),
                                   *tb = st_find(&b.weights, parts.part[p].name);
            if (!ta || !tb || ta->ndim != 2 || tb->numel != ta->numel) continue;
            float *fa = malloc((size_t)ta->numel * sizeof(float)), *fb = malloc((size_t)ta->numel * sizeof(float));
            dtype_to_f32(ta->dtype, ta->data, fa, (size_t)ta->numel);
            dtype_to_f32(tb->dtype, tb->data, fb, (size_t)tb->numel);
            printf("%-58s %12.4g %9.2f%s  (%s, layer %d %s)\n", ta->name, relative_change(fa, fb, ta->numel),
                   top_subspace_angle(fa, fb, ta->shape[0], ta->shape[1], k), "\u00b0",
                   fused                            ? "fused W_Q/W_K rows"
                   : parts.part[p].role == QK_QUERY ? "W_Q"
                                                    : "W_K",
                   li, layer_kind_name(a.cfg.layer_kinds[li]));
            free(fa), free(fb);
        }
    }
    if (rc == EXIT_OK) {
        printf("\nall tensors:\n");
        for (ptrdiff_t fi = 0; fi < arrlen(a.weights.files); fi++)
            for (ptrdiff_t ti = 0; ti < arrlen(a.weights.files[fi].tensors); ti++) {
                const struct st_tensor *ta = &a.weights.files[fi].tensors[ti], *tb = st_find(&b.weights, ta->name);
                if (!tb || tb->numel != ta->numel) {
                    fprintf(stderr, "hyrecall inspect: tensor '%s' differs in presence or shape\n", ta->name);
                    rc = EXIT_RUNTIME;
                    break;
                }
                float *fa = malloc((size_t)ta->numel * sizeof(float) + 4),
                      *fb = malloc((size_t)ta->numel * sizeof(float) + 4);
                dtype_to_f32(ta->dtype, ta->data, fa, (size_t)ta->numel);
                dtype_to_f32(tb->dtype, tb->data, fb, (size_t)tb->numel);
                printf("%-58s %12.4g\n", ta->name, relative_change(fa, fb, ta->numel));
                free(fa), free(fb);
            }
    }
    model_free(&a);
    model_free(&b);
    return rc;
}

static void human_bytes(int64_t b, char *out, size_t n)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1024 && u < 4) v /= 1024, u++;
    snprintf(out, n, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

int cmd_inspect(int argc, char **argv)
{
    const char *dir = NULL;
    const char *diff_b = NULL;
    long context = 0, threads = 0, top = 8; /* context 0: the trained context, else 32768 */
    bool diff = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(HELP, stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--diff") == 0) {
            diff = true;
        } else if (strcmp(a, "--top") == 0) {
            if (!(v = cli_value("inspect", argc, argv, &i)) || cli_parse_int("inspect", a, v, 1, 4096, &top))
                return EXIT_USAGE;
        } else if (strcmp(a, "--context") == 0) {
            int64_t size;
            if (!(v = cli_value("inspect", argc, argv, &i)) || cli_parse_size("inspect", a, v, 1, 1LL << 40, &size))
                return EXIT_USAGE;
            context = (long)size;
        } else if (strcmp(a, "--threads") == 0) {
            if (!(v = cli_value("inspect", argc, argv, &i)) || cli_parse_int("inspect", a, v, 1, 4096, &threads))
                return EXIT_USAGE;
        } else if (a[0] == '-') {
            cli_unknown_option("inspect", a, HELP);
            return EXIT_USAGE;
        } else if (!dir) {
            dir = a;
        } else if (diff && !diff_b) {
            diff_b = a;
        } else {
            cli_usage_error("inspect", "unexpected argument '%s'", a);
            return EXIT_USAGE;
        }
    }
    if (!dir) {
        cli_usage_error("inspect", "MODEL_DIR is required");
        return EXIT_USAGE;
    }
    cpu_set_threads((int)threads);
    if (diff) {
        if (!diff_b) {
            cli_usage_error("inspect", "--diff needs two model directories");
            return EXIT_USAGE;
        }
        return diff_checkpoints(dir, diff_b, (int)top);
    }
    struct model m;
    struct hr_error e;
    if (model_load(dir, &m, &e) != 0) {
        fprintf(stderr, "hyrecall inspect: %s\n", e.msg);
        return EXIT_RUNTIME;
    }
    const struct model_config *c = &m.cfg;
    if (context == 0) context = c->max_position_embeddings > 0 ? (long)c->max_position_embeddings : 32768;
    printf("model          %s\n", dir);
    printf("architecture   %s (%s)\n", c->model_type, m.arch->hf_class);
    printf("               %s\n", m.arch->description);
    printf("dimensions     hidden %d, intermediate %d, vocab %d, heads %d (kv %d) x %d\n", c->hidden_size,
           c->intermediate_size, c->vocab_size, c->num_heads, c->num_kv_heads, c->head_dim);
    if (c->num_experts)
        printf("experts        %d, top %d%s, width %d%s\n", c->num_experts, c->experts_per_token,
               c->norm_topk_prob ? " (renormalised)" : "", c->moe_intermediate_size,
               c->shared_expert_intermediate_size ? ", shared expert" : "");
    printf("rope           theta %g, rotary dim %d of %d%s\n", c->rope_theta, c->rotary_dim, c->head_dim,
           c->rope_type == ROPE_LINEAR ? ", linear scaling" : "");
    if (c->max_position_embeddings > 0)
        printf("trained for    %lld tokens (max_position_embeddings)\n", (long long)c->max_position_embeddings);
    else
        printf("trained for    not given (config.json has no max_position_embeddings)\n");
    printf("layer plan     %d layers:", c->num_layers);
    for (int i = 0; i < c->num_layers; i++) {
        if (i % 4 == 0) printf("\n              ");
        const struct layer *L = &m.layers[i];
        if (L->mixer != MIXER_SOFTMAX_ATTENTION)
            printf(" %2d:%s", i, block_kind(L->mixer)->plan_name);
        else if (L->kind == LAYER_SLIDING_ATTENTION)
            printf(" %2d:sliding(%d)", i, L->window);
        else
            printf(" %2d:full_attention", i);
        if (L->sparse) printf("+moe");
    }
    printf("\n");

    int64_t per_dtype[DT_COUNT] = {0};
    for (ptrdiff_t fi = 0; fi < arrlen(m.weights.files); fi++)
        for (ptrdiff_t ti = 0; ti < arrlen(m.weights.files[fi].tensors); ti++)
            per_dtype[m.weights.files[fi].tensors[ti].dtype]++;
    printf("tensors        %zu in %td file(s):", st_tensor_count(&m.weights), arrlen(m.weights.files));
    for (int t = 0; t < DT_COUNT; t++)
        if (per_dtype[t]) printf(" %s %lld", dtype_name((enum dtype)t), (long long)per_dtype[t]);
    printf("\nparameters     %lld%s\n", (long long)m.num_params, c->tie_word_embeddings ? " (embeddings tied)" : "");
    char b1[32], b2[32], b3[32], b4[32];
    human_bytes((int64_t)m.weights.mapped_bytes, b1, sizeof b1);
    human_bytes(m.owned_bytes, b2, sizeof b2);
    printf("memory         %s mapped read-only, %s converted to float32\n", b1, b2);
    human_bytes(session_state_bytes(&m, context), b3, sizeof b3);
    human_bytes(session_scratch_bytes(&m, SESSION_DEFAULT_BATCH), b4, sizeof b4);
    printf("session        %s of caches at %ld tokens, %s of activations (batch %d)\n", b3, context, b4,
           SESSION_DEFAULT_BATCH);
    printf("cpu            OpenBLAS core %s, %d threads\n", cpu_openblas_core(), cpu_threads());
    model_free(&m);
    return EXIT_OK;
}
