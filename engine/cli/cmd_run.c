/* hyrecall run: greedy generation from token ids, and reference dumps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/base/clock.h"
#include "engine/base/files.h"
#include "engine/cli/cli.h"
#include "engine/hyrecall.h"
#include "niah/niah_tasks.h"
#include "stb_ds.h"
#include "tokenizer/tokenizer.h"

static const char *HELP =
    "usage: hyrecall run -m MODEL_DIR (--ids 1,2,3 | -p TEXT | -p - | -f FILE) [--chat] [-n N]\n"
    "                    [-t N] [-c N] [--dump OUT.safetensors [--dump-layers [REGEX]]]\n\n"
    "Prefills the prompt in one batched pass, then decodes N tokens greedily (default 16), printing\n"
    "each as it is decoded: with --ids the generated ids on one line, separated by spaces; with a\n"
    "text prompt the generated text (the stop token itself is not printed). Then a summary on\n"
    "stderr, as llama.cpp prints one: prompt tokens and prefill tokens/s, generated tokens and\n"
    "decode tokens/s. Generation stops early at an eos id of generation_config.json / config.json\n"
    "(and, with --chat, at <|im_end|>).\n\n"
    "  -m, --model DIR     Hugging Face model directory\n"
    "  --ids IDS           prompt token ids, comma separated\n"
    "  -p, --prompt TEXT   prompt text, tokenized with MODEL_DIR/tokenizer.json; - reads it from stdin\n"
    "  -f, --file FILE     prompt text from FILE\n"
    "  --chat              wrap the text in the ChatML turn Qwen-family models expect:\n"
    "                        <|im_start|>user\\nTEXT<|im_end|>\\n<|im_start|>assistant\\n\n"
    "  -n, --max-new N     tokens to generate (default 16)\n"
    "  -t, --threads N     threads (default, or 0: all cores); any count gives the same bits\n"
    "  -c, --ctx-size N    the context the memory plan checks (default: prompt + N)\n"
    "  --temp T            only 0 (greedy: this is a reference engine; sampling is not offered)\n" CLI_RESTORE_HELP
    "  --dump FILE         also write reference outputs to FILE (refuses to overwrite):\n"
    "                        input_ids I32 [T]; logits F32 [T, V] (prompt, one parallel pass);\n"
    "                        generated_ids I32 [G]; full_logits_last F32 [G, V] (row i: logits\n"
    "                        after feeding generated_ids[i]); metadata: hyrecall_version,\n"
    "                        git_commit, openblas_core, threads, model_dir, model_type,\n"
    "                        prompt_len, generated, logits_sha256 and full_logits_last_sha256\n"
    "                        (SHA-256 of those tensors' bytes), provenance (JSON: the same and\n"
    "                        the SHA-256 of every model file, the restore applied and its base's)\n"
    "                        With --dump every generated token is fed, eos included.\n"
    "  --dump-layers [REGEX]  also every module's output for the prompt, named by its PyTorch module\n"
    "                        path, F32 [T, hidden]: model.embed_tokens, model.layers.N.self_attn (or\n"
    "                        .linear_attn: the token mixer after its output projection), model.layers.N.mlp,\n"
    "                        model.layers.N (the residual stream after the layer), model.norm; and under\n"
    "                        each mixer its inputs q, k, v (after norms, RoPE, HyPE), log_decay, beta, gate,\n"
    "                        and a linear layer's state and conv_tail after the prompt. REGEX (POSIX\n"
    "                        extended; also --dump-layers=REGEX) keeps the names it matches. Compare two\n"
    "                        dumps with hyrecall diff; docs/porting.md shows the workflow.\n\n"
    "exit codes: 0 ok, 1 invalid model or runtime failure, 2 usage error\n";

struct run_options {
    const char *model_dir, *dump_path, *prompt, *prompt_file;
    bool chat, dump_layers;
    const char *dump_filter; /* --dump-layers REGEX, or NULL for every name */
    int32_t *ids;
    int num_ids;
    long max_new, threads, ctx_size;
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
            if (!(v = cli_value("run", argc, argv, &i)) || cli_parse_ids("run", a, v, &o->ids, &o->num_ids)) return -1;
        } else if (strcmp(a, "-p") == 0 || strcmp(a, "--prompt") == 0) {
            if (!(o->prompt = cli_value("run", argc, argv, &i))) return -1;
        } else if (strcmp(a, "-f") == 0 || strcmp(a, "--file") == 0) {
            if (!(o->prompt_file = cli_value("run", argc, argv, &i))) return -1;
        } else if (strcmp(a, "-c") == 0 || strcmp(a, "--ctx-size") == 0) {
            if (!(v = cli_value("run", argc, argv, &i)) || cli_parse_int("run", a, v, 1, 1L << 40, &o->ctx_size))
                return -1;
        } else if (strcmp(a, "--temp") == 0 || strcmp(a, "--temperature") == 0) {
            if (!(v = cli_value("run", argc, argv, &i))) return -1;
            char *end;
            const double t = strtod(v, &end);
            if (end == v || *end || t != 0)
                return cli_usage_error("run",
                                       "--temp %s: hyrecall decodes greedily (a reference engine: same "
                                       "inputs, same tokens); only --temp 0 is accepted",
                                       v);
        } else if (strcmp(a, "--chat") == 0) {
            o->chat = true;
        } else if (strcmp(a, "-n") == 0 || strcmp(a, "--max-new") == 0) {
            if (!(v = cli_value("run", argc, argv, &i)) || cli_parse_int("run", a, v, 0, 1 << 24, &o->max_new))
                return -1;
        } else if (strcmp(a, "--threads") == 0 || strcmp(a, "-t") == 0) {
            if (!(v = cli_value("run", argc, argv, &i)) || cli_parse_int("run", a, v, 0, 4096, &o->threads)) return -1;
        } else if (strcmp(a, "--dump-layers") == 0 || strncmp(a, "--dump-layers=", 14) == 0) {
            o->dump_layers = true;
            if (a[13] == '=')
                o->dump_filter = a + 14;
            else if (i + 1 < argc && argv[i + 1][0] != '-')
                o->dump_filter = argv[++i];
        } else if (strcmp(a, "--dump") == 0) {
            if (!(o->dump_path = cli_value("run", argc, argv, &i))) return -1;
        } else {
            return cli_unknown_option("run", a, HELP);
        }
    }
    if (!o->model_dir) return cli_usage_error("run", "-m MODEL_DIR is required");
    if (!!o->ids + !!o->prompt + !!o->prompt_file != 1)
        return cli_usage_error("run", "give exactly one of --ids, -p and -f");
    if (o->chat && o->ids) return cli_usage_error("run", "--chat needs a text prompt (-p or -f)");
    if (o->dump_layers && !o->dump_path) return cli_usage_error("run", "--dump-layers needs --dump FILE");
    return cli_restore_check("run", &o->restore, false);
}

/* Tokenizes the -p text (in a ChatML turn with --chat) into o->ids, and adds
 * <|im_end|> to the stop ids for chat. */
static int tokenize_prompt(struct run_options *o, struct tokenizer *t, struct model_config *cfg, struct hr_error *e)
{
    if (o->chat && tok_token_id(t, "<|im_start|>") < 0)
        return hr_fail(e,
                       "--chat: %s/tokenizer.json has no <|im_start|> token, so this model does not use the ChatML "
                       "turn --chat writes; give the prompt in the form the model expects, without --chat",
                       o->model_dir);
    char *text = niah_chat_wrap(o->chat ? niah_chat_template("chatml") : "{task_template}", o->prompt);
    if (!text) return hr_fail(e, "out of memory");
    int rc = tok_encode(t, text, strlen(text), &o->ids, &o->num_ids, e);
    free(text);
    if (rc != 0) return -1;
    if (o->num_ids == 0) return hr_fail(e, "the prompt encodes to no tokens");
    for (int i = 0; i < o->num_ids; i++)
        if (o->ids[i] >= cfg->vocab_size)
            return hr_fail(e,
                           "%s/tokenizer.json gives token id %d, outside the vocabulary of %s (%d ids): the "
                           "tokenizer and the model do not match",
                           o->model_dir, o->ids[i], cfg->path, cfg->vocab_size);
    int32_t im_end = tok_token_id(t, "<|im_end|>");
    if (o->chat && im_end >= 0 && cfg->num_eos < 8) cfg->eos_ids[cfg->num_eos++] = im_end;
    return 0;
}

/* The reference dump, with the record of what made it (provenance.h) and the
 * SHA-256 of the logits' bytes, so that two dumps compare in one line. */
static int write_dump(const struct run_options *o, const struct model *m, const float *prompt_logits,
                      const int32_t *gen, int n_gen, const float *step_logits, const struct tensor_recorder *layers,
                      struct hr_error *e)
{
    const int64_t V = m->cfg.vocab_size;
    cJSON *record = provenance_for_model(o->model_dir, &o->restore, e);
    if (!record) return -1;
    char *provenance = cJSON_PrintUnformatted(record);
    cJSON_Delete(record);
    char threads[32], prompt_len[32], generated[32], logits_sha[65], steps_sha[65];
    snprintf(prompt_len, sizeof prompt_len, "%d", o->num_ids);
    snprintf(generated, sizeof generated, "%d", n_gen);
    sha256_hex_of(prompt_logits, (size_t)(o->num_ids * V) * sizeof(float), logits_sha);
    sha256_hex_of(step_logits, (size_t)(n_gen * V) * sizeof(float), steps_sha);
    const char *meta[32] = {"format", "hyrecall-reference-v1"};
    int k = 2;
    k += build_provenance_meta(meta + k, threads, sizeof threads);
    const char *rest[] = {
        "model_dir", o->model_dir,    "model_type", m->cfg.model_type,         "prompt_len", prompt_len,   "generated",
        generated,   "logits_sha256", logits_sha,   "full_logits_last_sha256", steps_sha,    "provenance", provenance};
    for (size_t i = 0; i < sizeof rest / sizeof *rest; i++) meta[k++] = rest[i];
    meta[k] = NULL;
    const int extra = layers ? (int)arrlen(layers->tensors) : 0;
    struct st_write_tensor *t = calloc((size_t)(4 + extra), sizeof *t);
    if (!t) {
        free(provenance);
        return hr_fail(e, "out of memory");
    }
    t[0] = (struct st_write_tensor){"input_ids", DT_I32, 1, {o->num_ids}, o->ids};
    /* The module outputs in forward order, then the logits (tensor_dump.h). */
    for (int i = 0; i < extra; i++) {
        const struct recorded_tensor *r = &layers->tensors[i];
        t[1 + i] = (struct st_write_tensor){r->name, DT_F32, r->ndim, {r->shape[0], r->shape[1], r->shape[2]}, r->data};
    }
    t[1 + extra] = (struct st_write_tensor){"logits", DT_F32, 2, {o->num_ids, V}, prompt_logits};
    t[2 + extra] = (struct st_write_tensor){"generated_ids", DT_I32, 1, {n_gen}, gen};
    t[3 + extra] = (struct st_write_tensor){"full_logits_last", DT_F32, 2, {n_gen, V}, step_logits};
    const int rc = st_write_file(o->dump_path, t, 4 + extra, meta, false, e);
    free(t);
    free(provenance);
    return rc;
}

/* After the prompt: the linear layers' states into the dump, and the
 * recorder off (decode steps are not recorded). */
static void layers_prefilled(void *ctx, const struct session *s)
{
    tensor_recorder_add_states(ctx, s);
    session_set_observer((struct session *)s, NULL);
}

/* Streams each token as it is decoded: ids, or the text of each token (the
 * concatenation of byte-level tokens' bytes is the text), and notes when the
 * first one came (the end of the prefill). */
struct stream {
    struct tokenizer *tok;
    int printed;
    double first_token;
    bool failed;
};

static void stream_token(void *ctx, int32_t id, bool stop)
{
    struct stream *st = ctx;
    if (st->printed == 0) st->first_token = clock_seconds();
    if (!st->tok) {
        printf(st->printed ? " %d" : "%d", id);
    } else if (!stop) { /* the stop token is not text */
        char *text;
        size_t len;
        struct hr_error e;
        if (tok_decode(st->tok, &id, 1, &text, &len, &e) == 0) {
            fwrite(text, 1, len, stdout);
            free(text);
        } else {
            st->failed = true;
        }
    }
    st->printed++;
    fflush(stdout);
}

/* The -p - (stdin) or -f FILE prompt text, malloc'd. */
static char *read_prompt(const struct run_options *o, struct hr_error *e)
{
    if (o->prompt_file) return read_text_file(o->prompt_file, NULL, e);
    size_t cap = 1 << 16, n = 0;
    char *text = malloc(cap);
    for (size_t got; text && (got = fread(text + n, 1, cap - n - 1, stdin)) > 0;) {
        n += got;
        if (n + 1 == cap) {
            char *grown = realloc(text, cap *= 2);
            if (!grown) free(text);
            text = grown;
        }
    }
    if (!text)
        hr_fail(e, "out of memory reading the prompt from stdin");
    else
        text[n] = '\0';
    return text;
}

int cmd_run(int argc, char **argv)
{
    struct run_options o;
    if (parse(argc, argv, &o) != 0) {
        free(o.ids);
        return EXIT_USAGE;
    }
    /* Outputs are checked before any work (a refusal after the prefill wastes it). */
    if (o.dump_path && access(o.dump_path, F_OK) == 0) {
        fprintf(stderr, "hyrecall run: %s: already exists; refusing to overwrite\n", o.dump_path);
        free(o.ids);
        return EXIT_RUNTIME;
    }
    cpu_set_threads((int)o.threads);
    struct hr_error e;
    char *prompt_text = NULL;
    if (o.prompt_file || (o.prompt && strcmp(o.prompt, "-") == 0)) {
        if (!(prompt_text = read_prompt(&o, &e))) {
            fprintf(stderr, "hyrecall run: %s\n", e.msg);
            return EXIT_RUNTIME;
        }
        o.prompt = prompt_text;
    }
    struct model m;
    const int64_t context = o.ctx_size ? o.ctx_size : o.num_ids + o.max_new + (o.prompt ? 4096 : 0);
    if (cli_load_model("run", o.model_dir, &o.restore, context, &m) != 0) {
        free(o.ids), free(prompt_text);
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
            free(prompt_text);
            return EXIT_RUNTIME;
        }
    }
    cli_warn_context("run", &m, o.num_ids + o.max_new);
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
        struct stream st = {.tok = tok};
        r.on_token = stream_token, r.on_token_ctx = &st;
        struct tensor_recorder layers = {0};
        struct session_observer recorder;
        if (o.dump_layers) {
            if (tensor_recorder_init(&layers, &m, o.num_ids, o.dump_filter, &e) != 0) {
                fprintf(stderr, "hyrecall run: %s\n", e.msg);
                session_free(&s);
                rc = EXIT_USAGE;
                goto done;
            }
            recorder = tensor_recorder_observer(&layers);
            session_set_observer(&s, &recorder);
            r.on_prefilled = layers_prefilled, r.on_prefilled_ctx = &layers;
        }
        const double t0 = clock_seconds();
        int gen_rc = generate_greedy(&s, &r, gen, &n_gen, &e);
        const double t_end = clock_seconds();
        printf("\n");
        fflush(stdout);
        if (gen_rc == 0 && layers.failed) gen_rc = hr_fail(&e, "out of memory recording the module outputs");
        if (gen_rc != 0 || (o.dump_path && write_dump(&o, &m, prompt_logits, gen, n_gen, step_logits,
                                                      o.dump_layers ? &layers : NULL, &e) != 0)) {
            fprintf(stderr, "hyrecall run: %s\n", e.msg);
            rc = EXIT_RUNTIME;
        } else if (st.failed) {
            fprintf(stderr, "hyrecall run: a generated token could not be decoded to text\n");
            rc = EXIT_RUNTIME;
        } else {
            /* llama.cpp's summary: prompt eval and eval, tokens and tokens/s. */
            const double prefill = n_gen ? st.first_token - t0 : t_end - t0,
                         decode = t_end - (n_gen ? st.first_token : t_end);
            fprintf(stderr,
                    "hyrecall run: prompt %d tokens, prefill %.3f s (%.1f tokens/s); generated %d tokens, "
                    "decode %.3f s (%.2f tokens/s)\n",
                    o.num_ids, prefill, o.num_ids / (prefill > 0 ? prefill : 1e-9), n_gen, decode,
                    n_gen > 1 ? (n_gen - 1) / (decode > 0 ? decode : 1e-9) : 0.0);
        }
        tensor_recorder_free(&layers);
        session_free(&s);
    }
done:
    free(gen);
    free(prompt_logits);
    free(step_logits);
    free(o.ids);
    free(prompt_text);
    tok_free(tok);
    model_free(&m);
    return rc;
}
