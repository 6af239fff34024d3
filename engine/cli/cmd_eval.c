/* hyrecall eval: the reasoning side of the A/B comparison. Attention amnesia
 * is a trade: chain-of-thought SFT buys reasoning and loses recall, and a
 * restore should win recall back without giving the reasoning up. `niah`
 * measures the recall; this measures the reasoning, on held-out worked
 * arithmetic in the format the miniature models' SFT data uses
 * (niah/cot_arithmetic.h). */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/cli/cli.h"
#include "engine/hyrecall.h"
#include "niah/cot_arithmetic.h"
#include "tokenizer/tokenizer.h"

static const char *HELP =
    "usage: hyrecall eval (-m MODEL_DIR | --compare LIST) [options]\n\n"
    "Held-out chain-of-thought accuracy: worked sums of 2-4 numbers in 1..99, drawn with Python's\n"
    "random.Random(SEED) as tools/miniature/data.py draws its SFT data. Each model is prompted\n"
    "\"Question: 37 + 48 - 19 = ?\\nAnswer:\", decodes greedily, and is right when its first\n"
    "\"The answer is N.\" holds the result. The training script draws from other seeds; the\n"
    "problem space is large (about 4e8 problems) but not partitioned, so a few may coincide.\n\n"
    "  -m, --model DIR      the model (restore flags below apply to it)\n"
    "  --compare LIST       several variants, as niah's: base=DIR,sft=DIR,restored=DIR+qk@BASE_DIR\n"
    "  --samples N          problems (default 200)\n"
    "  --seed S             default 2026\n"
    "  --max-new N          tokens to generate per problem (default 96)\n"
    "  --show N             print the first N generations of each variant\n"
    "  --json FILE          also write the results as JSON (refuses to overwrite)\n"
    "  --threads N\n" CLI_RESTORE_HELP "\nexit codes: 0 ok, 1 invalid model or tokenizer, 2 usage error\n";

struct eval_options {
    struct variant variants[8];
    int num_variants;
    const char *model_dir, *json;
    long samples, seed, max_new, show, threads;
    struct restore_options restore;
};

static int parse(int argc, char **argv, struct eval_options *o)
{
    memset(o, 0, sizeof *o);
    o->samples = 200, o->seed = 2026, o->max_new = 96;
    restore_options_default(&o->restore);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        bool matched;
        if (cli_restore_flag("eval", argc, argv, &i, &o->restore, &matched)) return -1;
        if (matched) continue;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(HELP, stdout);
            exit(EXIT_OK);
        } else if (strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0) {
            if (!(o->model_dir = cli_value("eval", argc, argv, &i))) return -1;
        } else if (strcmp(a, "--compare") == 0) {
            if (!(v = cli_value("eval", argc, argv, &i)) ||
                cli_parse_variants("eval", v, o->variants, 8, &o->num_variants))
                return -1;
        } else if (strcmp(a, "--json") == 0) {
            if (!(o->json = cli_value("eval", argc, argv, &i))) return -1;
        } else {
            long *target = strcmp(a, "--samples") == 0   ? &o->samples
                           : strcmp(a, "--seed") == 0    ? &o->seed
                           : strcmp(a, "--max-new") == 0 ? &o->max_new
                           : strcmp(a, "--show") == 0    ? &o->show
                           : strcmp(a, "--threads") == 0 ? &o->threads
                                                         : NULL;
            if (!target) return cli_unknown_option("eval", a, HELP);
            const long lo = target == &o->samples || target == &o->max_new || target == &o->threads ? 1 : 0;
            if (!(v = cli_value("eval", argc, argv, &i)) || cli_parse_int("eval", a, v, lo, 1L << 31, target))
                return -1;
        }
    }
    if (!o->model_dir == !o->num_variants) return cli_usage_error("eval", "give exactly one of -m and --compare");
    if (o->num_variants && o->restore.base_dir)
        return cli_usage_error("eval", "with --compare, restore per variant: NAME=DIR+qk@BASE");
    bool variant_restored = false;
    for (int k = 0; k < o->num_variants; k++) variant_restored |= o->variants[k].base[0] != '\0';
    if (cli_restore_check("eval", &o->restore, variant_restored)) return -1;
    if (o->model_dir) {
        struct variant *v = &o->variants[o->num_variants++];
        snprintf(v->name, sizeof v->name, "model");
        snprintf(v->dir, sizeof v->dir, "%s", o->model_dir);
    }
    if (o->json && access(o->json, F_OK) == 0)
        return cli_usage_error("eval", "%s exists; refusing to overwrite", o->json);
    return 0;
}

/* One variant over all problems: the number answered right. */
static int eval_variant(const struct eval_options *o, const struct variant *v, long *correct)
{
    const struct restore_options ro = variant_restore_options(v, &o->restore);
    struct model m;
    if (cli_load_model("eval", v->dir, &ro, 256 + o->max_new, &m)) return -1;
    char path[2048];
    snprintf(path, sizeof path, "%s/tokenizer.json", v->dir);
    struct hr_error e;
    struct tokenizer *tok = NULL;
    struct session s;
    int32_t *gen = malloc((size_t)o->max_new * sizeof *gen);
    int rc = tok_load(path, &tok, &e) || session_init(&s, &m, 0, &e) ? -1 : 0;
    if (rc) {
        fprintf(stderr, "hyrecall eval: %s\n", e.msg);
        free(gen);
        tok_free(tok);
        model_free(&m);
        return -1;
    }
    struct pyrandom rng;
    pyr_seed(&rng, (uint64_t)o->seed);
    *correct = 0;
    for (long i = 0; i < o->samples && rc == 0; i++) {
        struct arithmetic_problem p;
        arithmetic_problem_draw(&rng, &p);
        int32_t *ids = NULL;
        int n = 0, n_gen = 0;
        char *text = NULL;
        size_t len;
        session_reset(&s);
        struct generate_request r = {
            .prompt = NULL, .max_new = (int)o->max_new, .stop_ids = m.cfg.eos_ids, .num_stop = m.cfg.num_eos};
        if (tok_encode(tok, p.question, strlen(p.question), &ids, &n, &e) == 0) {
            r.prompt = ids, r.prompt_len = n;
            int ok_gen = generate_greedy(&s, &r, gen, &n_gen, &e) == 0;
            for (int k = 0; ok_gen && n_gen > 0 && k < m.cfg.num_eos; k++) /* the stop token is not text */
                if (gen[n_gen - 1] == m.cfg.eos_ids[k]) {
                    n_gen--;
                    break;
                }
            if (ok_gen && tok_decode(tok, gen, n_gen, &text, &len, &e) == 0) {
                const bool ok = arithmetic_answer_correct(text, p.result);
                *correct += ok;
                if (i < o->show) printf("[%s %ld] %s%s  -> %s\n", v->name, i, p.question, text, ok ? "right" : "wrong");
            } else {
                rc = -1;
            }
        } else {
            rc = -1;
        }
        if (rc) fprintf(stderr, "hyrecall eval: %s\n", e.msg);
        free(ids);
        free(text);
    }
    session_free(&s);
    free(gen);
    tok_free(tok);
    model_free(&m);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    struct eval_options o;
    if (parse(argc, argv, &o)) return EXIT_USAGE;
    cpu_set_threads((int)o.threads);
    long correct[8];
    for (int i = 0; i < o.num_variants; i++)
        if (eval_variant(&o, &o.variants[i], &correct[i])) return EXIT_RUNTIME;
    printf("%-16s %9s %9s   (worked arithmetic, seed %ld)\n", "variant", "correct", "accuracy", o.seed);
    for (int i = 0; i < o.num_variants; i++)
        printf("%-16s %4ld/%-4ld %8.1f%%\n", o.variants[i].name, correct[i], o.samples, 100.0 * correct[i] / o.samples);
    if (!o.json) return EXIT_OK;
    cJSON *root = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(root, "variants");
    cJSON_AddStringToObject(root, "task", "cot_arithmetic");
    cJSON_AddNumberToObject(root, "seed", (double)o.seed);
    cJSON_AddNumberToObject(root, "samples", (double)o.samples);
    cJSON_AddItemToObject(root, "provenance", build_provenance_json());
    for (int i = 0; i < o.num_variants; i++) {
        const struct restore_options ro = variant_restore_options(&o.variants[i], &o.restore);
        struct hr_error e;
        cJSON *v = model_provenance_json(o.variants[i].dir, &ro, &e);
        if (!v) {
            fprintf(stderr, "hyrecall eval: %s\n", e.msg);
            cJSON_Delete(root);
            return EXIT_RUNTIME;
        }
        cJSON_AddStringToObject(v, "name", o.variants[i].name);
        cJSON_AddStringToObject(v, "model", o.variants[i].dir);
        if (o.variants[i].base[0]) cJSON_AddStringToObject(v, "restored_from", o.variants[i].base);
        cJSON_AddNumberToObject(v, "correct", (double)correct[i]);
        cJSON_AddNumberToObject(v, "accuracy", (double)correct[i] / (double)o.samples);
        cJSON_AddItemToArray(list, v);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    FILE *f = fopen(o.json, "wx");
    const int rc = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f && fclose(f) != 0) perror(o.json);
    free(text);
    if (!rc) {
        fprintf(stderr, "hyrecall eval: %s: cannot write\n", o.json);
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}
