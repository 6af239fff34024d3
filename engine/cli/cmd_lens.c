/* hyrecall lens: where each layer of a model looks from one query position. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/files.h"
#include "engine/cli/cli.h"
#include "engine/hyrecall.h"
#include "tokenizer/tokenizer.h"

static const char *HELP =
    "usage: hyrecall lens -m MODEL_DIR (--ids IDS | --text TEXT | --prompt-file FILE) [--position P]\n"
    "                     [--dump OUT.safetensors] [--top K] [--threads N] [restore flags]\n\n"
    "Runs the prompt and shows, for the query at position P (default: the last prompt position), where\n"
    "every layer reads from:\n"
    "  softmax attention (full, sliding)  attention probabilities per head;\n"
    "  lightning attention                 per-position contribution lambda^(P-j) |q_P . k_j| |v_j| per head\n"
    "                                      (its output is the decay-weighted sum of those terms);\n"
    "  delta-rule layers                   no per-position figure: their state is rewritten by every token.\n"
    "Prints, per layer and head, the share of attention (or contribution) by distance P - j in powers of\n"
    "two, and the top K positions (default 3) as position:mass, with their tokens when MODEL_DIR has\n"
    "tokenizer.json.\n"
    "--dump writes attn.<layer> and contrib.<layer>, F32 [heads, T] (zero after P) to a safetensors file,\n"
    "with metadata: position, hyrecall_version, git_commit, openblas_core, threads, model_dir and\n"
    "provenance (JSON: every model file's SHA-256, the restore applied).\n"
    "With --restore-from the lens shows the restored model: compare base, fine-tuned and restored "
    "routing.\n" CLI_RESTORE_HELP "\n"
    "exit codes: 0 ok, 1 invalid model, prompt or output, 2 usage error\n";

/* Share of a row's mass at distances 0, 1, 2-3, 4-7, ... */
static void print_buckets(const float *row, int64_t P)
{
    double total = 0, bucket[40] = {0};
    for (int64_t j = 0; j <= P; j++) {
        int64_t dist = P - j;
        int b = 0;
        while ((1LL << b) <= dist) b++;
        bucket[b] += row[j];
        total += row[j];
    }
    for (int b = 0; b < 40 && (b == 0 || (1LL << (b - 1)) <= P); b++) {
        if (b == 0)
            printf(" d0:%.2f", total > 0 ? bucket[0] / total : 0);
        else
            printf(" d%lld+:%.2f", 1LL << (b - 1), total > 0 ? bucket[b] / total : 0);
    }
}

static void print_top(const float *row, int64_t P, int k, const int32_t *ids, struct tokenizer *tok)
{
    int64_t picked[16];
    for (int t = 0; t < k && t < 16; t++) {
        int64_t best = -1;
        for (int64_t j = 0; j <= P; j++) {
            bool used = false;
            for (int u = 0; u < t; u++) used |= picked[u] == j;
            if (!used && (best < 0 || row[j] > row[best])) best = j;
        }
        if (best < 0) break;
        picked[t] = best;
        printf("  %lld:%.3f", (long long)best, row[best]); /* position and its mass */
        if (tok) {
            char *text;
            size_t len;
            struct hr_error e;
            if (tok_decode(tok, &ids[best], 1, &text, &len, &e) == 0) {
                printf("(\"");
                for (size_t i = 0; i < len && i < 24; i++) putchar(text[i] == '\n' ? ' ' : text[i]);
                printf("\")");
                free(text);
            }
        }
    }
}

/* The lens's rows, with the record of what made them (provenance.h). */
static int write_dump(const char *path, const struct lens *l, int64_t T, const char *dir,
                      const struct restore_options *ro, struct hr_error *e)
{
    cJSON *record = provenance_for_model(dir, ro, e);
    if (!record) return -1;
    char *provenance = cJSON_PrintUnformatted(record);
    cJSON_Delete(record);
    struct st_write_tensor *t = calloc((size_t)(2 * l->num_layers + 1), sizeof *t);
    char(*names)[32] = calloc((size_t)(2 * l->num_layers + 1), sizeof *names);
    float **bufs = calloc((size_t)(2 * l->num_layers + 1), sizeof *bufs);
    int n = 0;
    for (int i = 0; i < l->num_layers; i++)
        for (int kind = 0; kind < 2; kind++) {
            const float *src = kind ? l->contrib[i] : l->attn[i];
            if (!src) continue;
            snprintf(names[n], sizeof names[n], "%s.%d", kind ? "contrib" : "attn", i);
            float *buf = calloc((size_t)(l->heads[i] * T), sizeof(float));
            for (int h = 0; h < l->heads[i]; h++)
                memcpy(buf + (int64_t)h * T, src + (int64_t)h * (l->position + 1),
                       (size_t)(l->position + 1) * sizeof(float));
            bufs[n] = buf;
            t[n] = (struct st_write_tensor){names[n], DT_F32, 2, {l->heads[i], T}, buf};
            n++;
        }
    char pos[32];
    snprintf(pos, sizeof pos, "%lld", (long long)l->position);
    char threads[32];
    const char *meta[24] = {"format", "hyrecall-lens-v1", "position", pos}; /* 16 entries and the NULL */
    int k = 4;
    k += build_provenance_meta(meta + k, threads, sizeof threads);
    meta[k++] = "model_dir", meta[k++] = dir, meta[k++] = "provenance", meta[k++] = provenance, meta[k] = NULL;
    int rc = st_write_file(path, t, n, meta, false, e);
    free(provenance);
    for (int i = 0; i < n; i++) free(bufs[i]);
    free(bufs), free(names), free(t);
    return rc;
}

int cmd_lens(int argc, char **argv)
{
    const char *dir = NULL, *ids_text = NULL, *text = NULL, *file = NULL, *dump = NULL;
    long position = -1, top = 3, threads = 0;
    struct restore_options ro;
    restore_options_default(&ro);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        bool matched;
        if (cli_restore_flag("lens", argc, argv, &i, &ro, &matched)) return EXIT_USAGE;
        if (matched) continue;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(HELP, stdout);
            return EXIT_OK;
        }
        if (!(v = cli_value("lens", argc, argv, &i))) return EXIT_USAGE;
        if (strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0)
            dir = v;
        else if (strcmp(a, "--ids") == 0)
            ids_text = v;
        else if (strcmp(a, "--text") == 0)
            text = v;
        else if (strcmp(a, "--prompt-file") == 0)
            file = v;
        else if (strcmp(a, "--dump") == 0)
            dump = v;
        else if (strcmp(a, "--position") == 0) {
            if (cli_parse_int("lens", a, v, 0, 1L << 40, &position)) return EXIT_USAGE;
        } else if (strcmp(a, "--top") == 0) {
            if (cli_parse_int("lens", a, v, 1, 16, &top)) return EXIT_USAGE;
        } else if (strcmp(a, "--threads") == 0) {
            if (cli_parse_int("lens", a, v, 1, 4096, &threads)) return EXIT_USAGE;
        } else {
            cli_unknown_option("lens", a, HELP);
            return EXIT_USAGE;
        }
    }
    if (!dir || (!!ids_text + !!text + !!file) != 1) {
        cli_usage_error("lens", "needs -m MODEL_DIR and exactly one of --ids, --text, --prompt-file");
        return EXIT_USAGE;
    }
    if (cli_restore_check("lens", &ro, false)) return EXIT_USAGE;
    cpu_set_threads((int)threads);
    struct hr_error e;
    struct model m;
    if (cli_load_model("lens", dir, &ro, 0, &m)) return EXIT_RUNTIME;
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    struct tokenizer *tok = NULL;
    FILE *probe = fopen(path, "rb");
    if (probe) fclose(probe);
    int rc = EXIT_RUNTIME;
    int32_t *ids = NULL;
    int T = 0;
    struct lens l = {0};
    if ((probe || text || file) && tok_load(path, &tok, &e)) goto fail;
    if (ids_text) {
        if (cli_parse_ids("lens", "--ids", ids_text, &ids, &T)) {
            rc = EXIT_USAGE;
            goto done;
        }
    } else {
        long len = 0;
        char *body = file ? read_text_file(file, &len, &e) : strdup(text);
        if (!body) goto fail;
        if (!file) len = (long)strlen(body);
        int r = tok_encode(tok, body, (size_t)len, &ids, &T, &e);
        free(body);
        if (r) goto fail;
    }
    if (T == 0) {
        hr_fail(&e, "the prompt is empty");
        goto fail;
    }
    if (position < 0) position = T - 1;
    if (position >= T) {
        hr_fail(&e, "--position %ld is past the prompt's last position %d", position, T - 1);
        goto fail;
    }
    for (int i = 0; i < T; i++)
        if (ids[i] < 0 || ids[i] >= m.cfg.vocab_size) {
            hr_fail(&e, "token id %d at index %d is outside the vocabulary [0, %d)", ids[i], i, m.cfg.vocab_size);
            goto fail;
        }
    cli_warn_context("lens", &m, position + 1);
    if (lens_run(&m, ids, position, 0, &l, &e)) goto fail;
    if (dump && write_dump(dump, &l, T, dir, &ro, &e)) goto fail;
    printf("lens: %s, query position %ld of %d tokens", dir, position, T);
    if (ro.base_dir) { /* a restored model says so (its record is in --dump's provenance) */
        char spec[32], parts[32];
        printf(", restored: %s (parts %s) from %s", restore_spec_name(&ro, spec, sizeof spec),
               restore_parts_name(ro.parts, parts, sizeof parts), ro.base_dir);
    }
    printf("\n");
    for (int i = 0; i < l.num_layers; i++) {
        const float *rows = l.attn[i] ? l.attn[i] : l.contrib[i];
        const struct layer *ly = &m.layers[i];
        printf("layer %2d %s%s\n", i, mixer_kind_name(ly->mixer),
               ly->window ? " (sliding)"
               : rows     ? ""
                          : ": not additive; no per-position figure");
        for (int h = 0; rows && h < l.heads[i]; h++) {
            const float *row = rows + (int64_t)h * (position + 1);
            printf("  head %2d %s", h, l.attn[i] ? "attn   " : "contrib");
            print_buckets(row, position);
            printf("\n          top");
            print_top(row, position, (int)top, ids, tok);
            printf("\n");
        }
    }
    rc = EXIT_OK;
    goto done;
fail:
    fprintf(stderr, "hyrecall lens: %s\n", e.msg);
done:
    lens_free(&l);
    free(ids);
    tok_free(tok);
    model_free(&m);
    return rc;
}
