/* hyrecall run: greedy generation from token ids, and reference dumps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cpu.h"
#include "../generate.h"
#include "../model.h"
#include "../build_info.h"
#include "../provenance.h"
#include "cli.h"
#include "tokenizer.h"

static const char *HELP =
    "usage: hyrecall run -m MODEL_DIR (--ids 1,2,3 | -p TEXT [--chat]) [-n N] [--threads N]\n"
    "                    [--dump OUT.safetensors]\n\n"
    "Prefills the prompt in one batched pass, then decodes N tokens greedily (default 16). With\n"
    "--ids it prints the generated ids on one line, separated by spaces; with -p it prints the\n"
    "generated text. Generation stops early at an eos id of generation_config.json / config.json\n"
    "(and, with --chat, at <|im_end|>).\n\n"
    "  -m, --model DIR     Hugging Face model directory\n"
    "  --ids IDS           prompt token ids, comma separated\n"
    "  -p, --prompt TEXT   prompt text, tokenized with MODEL_DIR/tokenizer.json\n"
    "  --chat              wrap the text in the ChatML turn Qwen-family models expect:\n"
    "                        <|im_start|>user\\nTEXT<|im_end|>\\n<|im_start|>assistant\\n\n"
    "  -n, --max-new N     tokens to generate (default 16)\n"
    "  --threads N         threads (default: all cores); any count gives the same bits\n"
    CLI_RESTORE_HELP
    "  --dump FILE         also write reference outputs to FILE (refuses to overwrite):\n"
    "                        input_ids I32 [T]; logits F32 [T, V] (prompt, one parallel pass);\n"
    "                        generated_ids I32 [G]; full_logits_last F32 [G, V] (row i: logits\n"
    "                        after feeding generated_ids[i]); metadata: hyrecall_version,\n"
    "                        git_commit, openblas_core, threads, model_dir, model_type,\n"
    "                        prompt_len, generated, logits_sha256 and full_logits_last_sha256\n"
    "                        (SHA-256 of those tensors' bytes), provenance (JSON: the same and\n"
    "                        the SHA-256 of every model file, the restore applied and its base's)\n"
    "                        With --dump every generated token is fed, eos included.\n\n"
    "exit codes: 0 ok, 1 invalid model or runtime failure, 2 usage error\n";

struct run_options {
    const char *model_dir, *dump_path, *prompt;
    bool chat;
    int32_t *ids;
    int num_ids;
    long max_new, threads;
    struct restore_options restore;
};

static int parse(int argc, char **argv, struct run_options *o)
{
    memset(o, 0, sizeof *o);
    o->max_new = 16;
    restore_options_default(&o->restore);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        bool matched;
        if (cli_restore_flag("run", argc, argv, &i, &o->restore, &matched)) return -1;
        if (matched) continue;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(HELP, stdout);
            exit(EXIT_OK);
        } else if (strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0) {
            if (!(o->model_dir = cli_value("run", argc, argv, &i))) return -1;
        } else if (strcmp(a, "--ids") == 0) {
            free(o->ids);
            if (!(v = cli_value("run", argc, argv, &i)) || cli_parse_ids("run", a, v, &o->ids, &o->num_ids))
                return -1;
        } else if (strcmp(a, "-p") == 0 || strcmp(a, "--prompt") == 0) {
            if (!(o->prompt = cli_value("run", argc, argv, &i))) return -1;
        } else if (strcmp(a, "--chat") == 0) {
            o->chat = true;
        } else if (strcmp(a, "-n") == 0 || strcmp(a, "--max-new") == 0) {
            if (!(v = cli_value("run", argc, argv, &i)) || cli_parse_int("run", a, v, 0, 1 << 24, &o->max_new))
                return -1;
        } else if (strcmp(a, "--threads") == 0) {
            if (!(v = cli_value("run", argc, argv, &i)) || cli_parse_int("run", a, v, 1, 4096, &o->threads))
                return -1;
        } else if (strcmp(a, "--dump") == 0) {
            if (!(o->dump_path = cli_value("run", argc, argv, &i))) return -1;
        } else {
            return cli_usage_error("run", "unknown option '%s'", a);
        }
    }
    if (!o->model_dir) return cli_usage_error("run", "-m MODEL_DIR is required");
    if (!o->ids == !o->prompt) return cli_usage_error("run", "give exactly one of --ids and -p");
    if (o->chat && !o->prompt) return cli_usage_error("run", "--chat needs -p TEXT");
    return 0;
}

/* Tokenizes the -p text (in a ChatML turn with --chat) into o->ids, and adds
 * <|im_end|> to the stop ids for chat. */
static int tokenize_prompt(struct run_options *o, struct tokenizer *t, struct model_config *cfg, struct hr_error *e)
{
    const char *fmt = o->chat ? "<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n" : "%s";
    size_t len = strlen(o->prompt) + 64;
    char *text = malloc(len);
    snprintf(text, len, fmt, o->prompt);
    int rc = tok_encode(t, text, strlen(text), &o->ids, &o->num_ids, e);
    free(text);
    if (rc != 0) return -1;
    if (o->num_ids == 0) return hr_fail(e, "the prompt encodes to no tokens");
    int32_t im_end = tok_token_id(t, "<|im_end|>");
    if (o->chat && im_end >= 0 && cfg->num_eos < 8) cfg->eos_ids[cfg->num_eos++] = im_end;
    return 0;
}

/* The reference dump, with the record of what made it (provenance.h) and the
 * SHA-256 of the logits' bytes, so that two dumps compare in one line. */
static int write_dump(const struct run_options *o, const struct model *m, const float *prompt_logits,
                      const int32_t *gen, int n_gen, const float *step_logits, struct hr_error *e)
{
    const int64_t V = m->cfg.vocab_size;
    cJSON *record = provenance_for_model(o->model_dir, &o->restore, e);
    if (!record) return -1;
    char *provenance = cJSON_PrintUnformatted(record);
    cJSON_Delete(record);
    char threads[32], prompt_len[32], generated[32], logits_sha[65], steps_sha[65];
    snprintf(threads, sizeof threads, "%d", cpu_threads());
    snprintf(prompt_len, sizeof prompt_len, "%d", o->num_ids);
    snprintf(generated, sizeof generated, "%d", n_gen);
    sha256_hex_of(prompt_logits, (size_t)(o->num_ids * V) * sizeof(float), logits_sha);
    sha256_hex_of(step_logits, (size_t)(n_gen * V) * sizeof(float), steps_sha);
    const char *meta[] = {"format",           "hyrecall-reference-v1",
                          "hyrecall_version", build_version(),
                          "git_commit",       build_commit(),
                          "openblas_core",    cpu_openblas_core(),
                          "threads",          threads,
                          "model_dir",        o->model_dir,
                          "model_type",       m->cfg.model_type,
                          "prompt_len",       prompt_len,
                          "generated",        generated,
                          "logits_sha256",    logits_sha,
                          "full_logits_last_sha256", steps_sha,
                          "provenance",       provenance,
                          NULL};
    struct st_write_tensor t[] = {
        {"input_ids", DT_I32, 1, {o->num_ids}, o->ids},
        {"logits", DT_F32, 2, {o->num_ids, V}, prompt_logits},
        {"generated_ids", DT_I32, 1, {n_gen}, gen},
        {"full_logits_last", DT_F32, 2, {n_gen, V}, step_logits},
    };
    const int rc = st_write_file(o->dump_path, t, 4, meta, false, e);
    free(provenance);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    struct run_options o;
    if (parse(argc, argv, &o) != 0) {
        free(o.ids);
        return EXIT_USAGE;
    }
    cpu_set_threads((int)o.threads);
    struct hr_error e;
    struct model m;
    if (cli_load_model("run", o.model_dir, &o.restore, o.num_ids + o.max_new + (o.prompt ? 4096 : 0), &m) != 0) {
        free(o.ids);
        return EXIT_RUNTIME;
    }
    struct tokenizer *tok = NULL;
    if (o.prompt) {
        char path[4096];
        snprintf(path, sizeof path, "%s/tokenizer.json", o.model_dir);
        if (tok_load(path, &tok, &e) != 0 || tokenize_prompt(&o, tok, &m.cfg, &e) != 0) {
            fprintf(stderr, "hyrecall run: %s\n", e.msg);
            tok_free(tok);
            model_free(&m);
            return EXIT_RUNTIME;
        }
    }
    const int64_t V = m.cfg.vocab_size;
    int32_t *gen = malloc(((size_t)o.max_new + 1) * sizeof *gen);
    float *prompt_logits = o.dump_path ? malloc((size_t)(o.num_ids * V) * sizeof(float)) : NULL;
    float *step_logits = o.dump_path ? malloc((size_t)((o.max_new + 1) * V) * sizeof(float)) : NULL;
    struct session s;
    int rc = EXIT_OK, n_gen = 0;
    if (!gen || (o.dump_path && (!prompt_logits || !step_logits))) {
        fprintf(stderr, "hyrecall run: out of memory\n");
        rc = EXIT_RUNTIME;
    } else if (session_init(&s, &m, 0, &e) != 0) {
        fprintf(stderr, "hyrecall run: %s\n", e.msg);
        rc = EXIT_RUNTIME;
    } else {
        struct generate_request r = {.prompt = o.ids,
                                     .prompt_len = o.num_ids,
                                     .max_new = (int)o.max_new,
                                     .stop_ids = m.cfg.eos_ids,
                                     .num_stop = m.cfg.num_eos,
                                     .prompt_logits = prompt_logits,
                                     .step_logits = step_logits};
        if (generate_greedy(&s, &r, gen, &n_gen, &e) != 0 ||
            (o.dump_path && write_dump(&o, &m, prompt_logits, gen, n_gen, step_logits, &e) != 0)) {
            fprintf(stderr, "hyrecall run: %s\n", e.msg);
            rc = EXIT_RUNTIME;
        } else if (tok) {
            char *text;
            size_t len;
            if (tok_decode(tok, gen, n_gen, &text, &len, &e) != 0) {
                fprintf(stderr, "hyrecall run: %s\n", e.msg);
                rc = EXIT_RUNTIME;
            } else {
                fwrite(text, 1, len, stdout);
                printf("\n");
                free(text);
            }
        } else {
            for (int i = 0; i < n_gen; i++) printf(i ? " %d" : "%d", gen[i]);
            printf("\n");
        }
        session_free(&s);
    }
    free(gen);
    free(prompt_logits);
    free(step_logits);
    free(o.ids);
    tok_free(tok);
    model_free(&m);
    return rc;
}
