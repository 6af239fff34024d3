/* hyrecall niah: RULER's needle-in-a-haystack tasks, generated, run, scored. */
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <dirent.h>
#include <unistd.h>

#include "engine/ops/cpu.h"
#include "engine/generate.h"
#include "engine/build_info.h"
#include "engine/provenance.h"
#include "engine/load/config.h"
#include "engine/cli/cli.h"
#include "niah/niah_generate.h"
#include "niah/run/niah_lens.h"
#include "niah/run/niah_run.h"
#include "niah/niah_report.h"
#include "niah/run/niah_resume.h"
#include "niah/niah_score.h"
#include "niah/sha256.h"
#include "stb_ds.h"
#include "tokenizer/tokenizer.h"

static const char *HELP =
    "usage: hyrecall niah -m MODEL_DIR --out DIR [options]            run the tasks on a model\n"
    "       hyrecall niah --dump-prompts -t TOKENIZER_JSON --out DIR [options]   write the prompts only\n"
    "       hyrecall niah score PREDICTIONS.jsonl [--out DIR]          rescore predictions made elsewhere\n\n"
    "RULER's needle-in-a-haystack tasks (NVIDIA/RULER scripts/data/synthetic/niah.py), generated draw for\n"
    "draw as RULER does, sized to each length with the model's tokenizer, run with batched prefill and\n"
    "greedy decoding, scored with RULER's string_match_all.\n\n"
    "  --tasks LIST          niah_single_1..3, niah_multikey_1..3, niah_multivalue, niah_multiquery (or S1,\n"
    "                        S2, S3, MK1, MK2, MK3, MV, MQ); default niah_single_1,niah_single_2,niah_single_3\n"
    "  --lengths LIST        token budgets, e.g. 1k,4k,16k (k = 1024); default 4k\n"
    "  --samples N           samples per task and length (per depth with --depths); default 20 (RULER: 500).\n"
    "                        RULER draws sample i the same way whatever N, so raising N on a finished\n"
    "                        (or interrupted) run in the same DIR extends it (not with --depths)\n"
    "  --seed S              random.seed as RULER's --random_seed; default 42\n"
    "  --depths LIST         fixed needle depths in percent (the classic heat-map grid), e.g. 0,25,50,75,100;\n"
    "                        default: RULER's random depths\n"
    "  --template NAME|TEXT  chat wrapper around the task: base (default), chatml, meta-llama3, meta-chat,\n"
    "                        vicuna-chat, lwm-chat, Phi3, or any text containing {task_template}\n"
    "  --tokens-to-generate N  default 128 (RULER)\n"
    "  --haystack FILE       essay haystack: UTF-8 text, or RULER's PaulGrahamEssays.json; default the\n"
    "                        shipped Jane Austen novels\n"
    "  --wordlists DIR       adjectivelist.txt and nounlist.txt; default the shipped wonderwords 2.2.0\n"
    "  -t, --tokenizer FILE  tokenizer.json (default MODEL_DIR/tokenizer.json)\n"
    "  --save-inputs         also write each prompt into the predictions\n"
    "  --lens                routing lens at the answer position: per softmax layer and head, the attention\n"
    "                        mass on the needle's value and key tokens and on the last 1K positions, in each\n"
    "                        predictions line; lens_summary.csv, lens_heads.svg (layers x heads per variant)\n"
    "                        and distance_profile.svg (mass against log distance, a line per variant).\n"
    "                        One process only (not under MPI); costs O(T) memory per softmax layer\n"
    "  --prompts FILE        run the prompts of a prompts.jsonl (written by --dump-prompts, here or by another\n"
    "                        tool: lines with task, length, index, input, answers) exactly as given\n"
    "  --compare LIST        A/B: run the same samples on several variants instead of -m, e.g.\n"
    "                        base=DIR,sft=DIR,restored=DIR+qk@BASE_DIR (METHOD qk or procrustes; the\n"
    "                        --restore-layers/--procrustes-alpha/--restore-with flags apply to it);\n"
    "                        one table and one heat map per task with a panel per variant\n"
    "  --threads N\n" CLI_RESTORE_HELP
    "\nA run in an existing DIR resumes it: the samples already in DIR/predictions.jsonl are kept, the\n"
    "rest run. DIR must hold the same run: the same models by content (the SHA-256 of every file, so\n"
    "another spelling of the same directory resumes and other weights in it are refused, the file named),\n"
    "tasks, lengths, seed and template. --dump-prompts needs a DIR that does not exist.\n\n"
    "Outputs:\n"
    "  run.json           what defines the run (compared on resume) and its provenance: hyrecall version\n"
    "                     and git commit, OpenBLAS core, threads, processes, every model file's SHA-256,\n"
    "                     the restore applied\n"
    "  predictions.jsonl  one line per sample: task, length, index, depth, seed, n_tokens, pred, answers,\n"
    "                     outputs (= answers, RULER's name), score [, input]\n"
    "  prompts.jsonl      (--dump-prompts) task, length, index, depth, seed, n_tokens, input (answer prefix\n"
    "                     included), answer_prefix, answers\n"
    "  summary.csv, summary.json  score per task x length x depth (and depth 'all'); summary.json also\n"
    "                     holds the provenance\n"
    "  heatmap_TASK.svg   depth x length heat map per task\n\n"
    "Under MPI (mpirun -np N hyrecall niah ..., or srun) rank 0 hands out samples longest first and\n"
    "writes the same files as a single process; --threads is per rank.\n\n"
    "exit codes: 0 ok, 1 invalid model, tokenizer, haystack or output directory, 2 usage error\n";

static const struct {
    const char *name, *wrapper;
} TEMPLATES[] = {
    {"base", "{task_template}"},
    {"chatml", "<|im_start|>user\n{task_template}<|im_end|>\n<|im_start|>assistant\n"},
    {"meta-chat", "[INST] {task_template} [/INST]"},
    {"vicuna-chat", "A chat between a curious user and an artificial intelligence assistant. The assistant gives "
                    "helpful, detailed, and polite answers to the user's questions. USER: {task_template} ASSISTANT:"},
    {"lwm-chat", "You are a helpful assistant. USER: {task_template} ASSISTANT: "},
    {"Phi3", "<|user|>\n{task_template}<|end|>\n<|assistant|>\n"},
    {"meta-llama3", "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{task_template}<|eot_id|><|start_"
                    "header_id|>assistant<|end_header_id|>\n\n"},
};

static int parse_lengths(const char *text, struct niah_options *o)
{
    o->num_lengths = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *end;
        double v = strtod(tok, &end);
        if (*end == 'k' || *end == 'K') v *= 1024, end++;
        else if (*end == 'm' || *end == 'M') v *= 1024 * 1024, end++;
        if (end == tok || *end || v < 1 || v > 1e9 || v != floor(v) || o->num_lengths >= 32)
            return cli_usage_error("niah", "--lengths expects sizes like 1k,4k,16384, got '%s'", text);
        for (int l = 0; l < o->num_lengths; l++)
            if (o->lengths[l] == (int64_t)v)
                return cli_usage_error("niah", "--lengths gives %lld twice ('%s')", (long long)v, text);
        o->lengths[o->num_lengths++] = (int64_t)v;
    }
    return o->num_lengths ? 0 : cli_usage_error("niah", "--lengths is empty");
}

static int parse_tasks(const char *text, struct niah_options *o)
{
    o->num_tasks = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        const struct niah_task *t = niah_task_find(tok);
        if (!t)
            return cli_usage_error("niah", "unknown task '%s' (niah_single_1..3, niah_multikey_1..3, niah_multivalue, "
                                           "niah_multiquery, or S1..S3, MK1..MK3, MV, MQ)",
                                   tok);
        for (int k = 0; k < o->num_tasks; k++)
            if (o->tasks[k] == t) return cli_usage_error("niah", "--tasks names %s twice ('%s')", t->name, text);
        if (o->num_tasks < 8) o->tasks[o->num_tasks++] = t;
    }
    return o->num_tasks ? 0 : cli_usage_error("niah", "--tasks is empty");
}

static int parse_depths(const char *text, struct niah_options *o)
{
    o->num_depths = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        long v;
        if (cli_parse_int("niah", "--depths", tok, 0, 100, &v) || o->num_depths >= 64) return -1;
        o->depths[o->num_depths++] = (int)v;
    }
    return o->num_depths ? 0 : cli_usage_error("niah", "--depths is empty");
}

static int parse(int argc, char **argv, struct niah_options *o)
{
    memset(o, 0, sizeof *o);
    o->samples = 20;
    o->seed = 42;
    o->tokens_to_generate = NIAH_TOKENS_TO_GENERATE;
    o->haystack = HYRECALL_DEFAULT_HAYSTACK;
    o->wordlists = HYRECALL_DEFAULT_WORDLISTS;
    o->template_arg = "base";
    restore_options_default(&o->restore);
    parse_tasks("niah_single_1,niah_single_2,niah_single_3", o);
    parse_lengths("4k", o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        bool matched;
        if (cli_restore_flag("niah", argc, argv, &i, &o->restore, &matched)) return -1;
        if (matched) continue;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(HELP, stdout);
            exit(EXIT_OK);
        } else if (strcmp(a, "--dump-prompts") == 0) {
            o->dump = true;
        } else if (strcmp(a, "--save-inputs") == 0) {
            o->save_inputs = true;
        } else if (strcmp(a, "--lens") == 0) {
            o->lens = true;
        } else if (!(v = cli_value("niah", argc, argv, &i))) {
            return -1;
        } else if (strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0) {
            o->model_dir = v;
        } else if (strcmp(a, "-t") == 0 || strcmp(a, "--tokenizer") == 0) {
            o->tokenizer = v;
        } else if (strcmp(a, "--out") == 0 || strcmp(a, "-o") == 0) {
            o->out = v;
        } else if (strcmp(a, "--haystack") == 0) {
            o->haystack = v;
        } else if (strcmp(a, "--wordlists") == 0) {
            o->wordlists = v;
        } else if (strcmp(a, "--template") == 0) {
            o->template_arg = v;
        } else if (strcmp(a, "--tasks") == 0) {
            if (parse_tasks(v, o)) return -1;
        } else if (strcmp(a, "--compare") == 0) {
            if (cli_parse_variants("niah", v, o->variants, 8, &o->num_variants)) return -1;
        } else if (strcmp(a, "--prompts") == 0) {
            o->prompts = v;
        } else if (strcmp(a, "--lengths") == 0) {
            if (parse_lengths(v, o)) return -1;
        } else if (strcmp(a, "--depths") == 0) {
            if (parse_depths(v, o)) return -1;
        } else if (strcmp(a, "--samples") == 0) {
            if (cli_parse_int("niah", a, v, 1, 1000000, &o->samples)) return -1;
        } else if (strcmp(a, "--tokens-to-generate") == 0) {
            if (cli_parse_int("niah", a, v, 1, 1 << 20, &o->tokens_to_generate)) return -1;
        } else if (strcmp(a, "--threads") == 0) {
            if (cli_parse_int("niah", a, v, 1, 4096, &o->threads)) return -1;
        } else if (strcmp(a, "--seed") == 0) {
            long s;
            if (cli_parse_int("niah", a, v, 0, 2147483647L, &s)) return -1;
            o->seed = (uint64_t)s;
        } else {
            return cli_usage_error("niah", "unknown option '%s'", a);
        }
    }
    o->wrapper = NULL;
    for (size_t i = 0; i < sizeof TEMPLATES / sizeof *TEMPLATES; i++)
        if (strcmp(o->template_arg, TEMPLATES[i].name) == 0) o->wrapper = TEMPLATES[i].wrapper;
    if (!o->wrapper) {
        if (!strstr(o->template_arg, "{task_template}"))
            return cli_usage_error("niah", "--template '%s' is neither a known name nor text with {task_template}",
                                   o->template_arg);
        o->wrapper = o->template_arg;
    }
    if (!o->out) return cli_usage_error("niah", "--out DIR is required");
    if (o->dump && !o->tokenizer) return cli_usage_error("niah", "--dump-prompts needs -t TOKENIZER_JSON");
    if (o->dump && o->prompts) return cli_usage_error("niah", "--prompts and --dump-prompts exclude each other");
    if (o->dump && o->lens) return cli_usage_error("niah", "--lens needs a model run, not --dump-prompts");
    if (o->num_variants && o->model_dir) return cli_usage_error("niah", "give either -m or --compare, not both");
    if (o->num_variants && o->restore.base_dir)
        return cli_usage_error("niah", "with --compare, restore per variant: NAME=DIR+qk@BASE");
    if (!o->dump && !o->model_dir && !o->num_variants)
        return cli_usage_error("niah", "-m MODEL_DIR (or --compare, or --dump-prompts) is required");
    if (!o->num_variants && o->model_dir) { /* one variant: the model */
        struct variant *v = &o->variants[o->num_variants++];
        memset(v, 0, sizeof *v);
        snprintf(v->name, sizeof v->name, "model");
        snprintf(v->dir, sizeof v->dir, "%s", o->model_dir);
    }
    for (int l = 0; l < o->num_lengths; l++)
        if (o->lengths[l] <= o->tokens_to_generate)
            return cli_usage_error("niah", "length %lld leaves no room for %ld tokens to generate",
                                   (long long)o->lengths[l], o->tokens_to_generate);
    return 0;
}


/* A pending slot whose sample predictions.jsonl already holds (a resumed run). */
static char already_written_slot;
#define ALREADY_WRITTEN (&already_written_slot)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The output directory is built as OUT.tmp.PID and renamed at the end. */
static int begin_output(const char *out, char *tmp, size_t n, struct hr_error *e)
{
    if (access(out, F_OK) == 0) return hr_fail(e, "%s: already exists; refusing to overwrite", out);
    snprintf(tmp, n, "%s.tmp.%ld", out, (long)getpid());
    if (mkdir(tmp, 0755) != 0) return hr_fail(e, "%s: cannot create: %s", tmp, strerror(errno));
    return 0;
}

static void remove_partial(const char *tmp)
{
    const char *names[] = {"predictions.jsonl", "prompts.jsonl", "summary.csv", "summary.json", NULL};
    char path[4200];
    for (int i = 0; names[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmp, names[i]);
        unlink(path);
    }
    for (int t = 0; t < 8; t++) {
        snprintf(path, sizeof path, "%s/heatmap_%s.svg", tmp, niah_tasks[t].name);
        unlink(path);
    }
    rmdir(tmp);
}

static cJSON *answers_json(const struct niah_sample *s)
{
    cJSON *a = cJSON_CreateArray();
    for (int k = 0; k < s->num_answers; k++) cJSON_AddItemToArray(a, cJSON_CreateString(s->answers[k]));
    return a;
}

static void write_line(FILE *f, cJSON *o)
{
    char *text = cJSON_PrintUnformatted(o);
    fputs(text, f);
    fputc('\n', f);
    free(text);
    cJSON_Delete(o);
}


/* Creates the output directory with its run.json and opens predictions.jsonl
 * for appending, the first time a prediction is written. */
static int ensure_output(struct run_context *c, struct hr_error *e)
{
    if (c->out) return 0;
    char path[4200], tmp[4300];
    if (mkdir(c->out_dir, 0755) != 0 && errno != EEXIST)
        return hr_fail(e, "%s: cannot create: %s", c->out_dir, strerror(errno));
    /* run.json: the manifest (a resumed run's equals it but for a raised
     * --samples) and the record of the process that writes it. */
    snprintf(path, sizeof path, "%s/run.json", c->out_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    cJSON *record = cJSON_Duplicate(c->manifest, true);
    cJSON_AddItemToObject(record, "provenance", cJSON_Duplicate(c->provenance, true));
    char *text = cJSON_Print(record);
    cJSON_Delete(record);
    FILE *f = fopen(tmp, "w");
    int bad = !f || fputs(text, f) < 0 || fputc('\n', f) < 0;
    if (f) bad |= fclose(f) != 0;
    free(text);
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return hr_fail(e, "%s: cannot write", path);
    }
    snprintf(path, sizeof path, "%s/predictions.jsonl", c->out_dir);
    c->out = fopen(path, "a");
    return c->out ? 0 : hr_fail(e, "%s: cannot open for appending: %s", path, strerror(errno));
}

/* Loads variant vi into c (the model, its session and stop ids); a no-op when
 * it is already loaded. */
int niah_load_variant(struct run_context *c, int vi, struct hr_error *e)
{
    const struct niah_options *o = c->o;
    if (c->have_model && c->loaded_variant == vi) return 0;
    if (c->have_model) {
        session_free(&c->session);
        model_free(&c->model);
        c->have_model = false;
    }
    const struct variant *v = &o->variants[vi];
    const struct restore_options ro = variant_restore_options(v, &o->restore);
    c->variant = v->name;
    if (cli_load_model("niah", v->dir, &ro, c->longest, &c->model)) return hr_fail(e, "%s: the model did not load", v->dir);
    c->have_model = true;
    c->loaded_variant = vi;
    if (session_init(&c->session, &c->model, 0, e)) return -1;
    c->num_stop = 0;
    for (int k = 0; k < c->model.cfg.num_eos; k++) c->stop_ids[c->num_stop++] = c->model.cfg.eos_ids[k];
    int32_t im_end = tok_token_id(c->tok, "<|im_end|>");
    if (strcmp(o->template_arg, "chatml") == 0 && im_end >= 0) c->stop_ids[c->num_stop++] = im_end;
    return 0;
}

/* One prompt through the loaded model: prefill, greedy decode to the
 * generation budget or a stop token, the text without the stop token. */
int niah_infer(struct run_context *c, const char *prompt, char **pred, struct hr_error *e)
{
    int32_t *ids, *gen = malloc((size_t)c->o->tokens_to_generate * sizeof *gen);
    int n, n_gen = 0;
    if (tok_encode(c->tok, prompt, strlen(prompt), &ids, &n, e)) {
        free(gen);
        return -1;
    }
    session_reset(&c->session);
    struct lens lens = {0};
    const bool observe = c->lens_sample && n > 0;
    if (observe && niah_lens_begin(&lens, &c->model, n - 1)) {
        lens_free(&lens);
        free(ids), free(gen);
        return hr_fail(e, "out of memory for the lens");
    }
    const struct session_observer observer = lens_observer(&lens);
    if (observe) session_set_observer(&c->session, &observer); /* the prefill fills the rows of P = n − 1 */
    double t0 = now();
    struct generate_request r = {.prompt = ids, .prompt_len = n, .max_new = (int)c->o->tokens_to_generate,
                                 .stop_ids = c->stop_ids, .num_stop = c->num_stop};
    int rc = generate_greedy(&c->session, &r, gen, &n_gen, e);
    c->prefill_seconds += now() - t0;
    c->prefill_tokens += n;
    session_set_observer(&c->session, NULL);
    if (observe && rc == 0) c->lens_json = niah_lens_measure(&lens, c->tok, ids, n, c->lens_sample);
    lens_free(&lens);
    free(ids);
    if (rc == 0) {
        for (int k = 0; n_gen > 0 && k < c->num_stop; k++)
            if (gen[n_gen - 1] == c->stop_ids[k]) {
                n_gen--;
                break;
            }
        size_t len;
        rc = tok_decode(c->tok, gen, n_gen, pred, &len, e);
    }
    free(gen);
    return rc;
}

/* The predictions line of a unit: scored here, written in predictions.jsonl
 * order (units may finish out of order under MPI; they wait in `pending`). */
int niah_record(struct run_context *c, const struct unit *u, const char *pred, struct hr_error *e)
{
    const struct niah_sample *s = u->s;
    char *pp = strdup(pred);
    const char *clean = niah_postprocess(pp);
    const double score = niah_string_match_all(clean, (const char *const *)s->answers, s->num_answers);
    free(pp);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "variant", c->variant);
    cJSON_AddStringToObject(o, "task", u->task);
    cJSON_AddNumberToObject(o, "length", (double)u->length);
    cJSON_AddNumberToObject(o, "index", s->index);
    cJSON_AddNumberToObject(o, "depth", s->depth);
    cJSON_AddNumberToObject(o, "seed", (double)u->seed);
    cJSON_AddNumberToObject(o, "n_tokens", s->n_tokens);
    cJSON_AddStringToObject(o, "pred", pred);
    cJSON_AddItemToObject(o, "answers", answers_json(s));
    cJSON_AddItemToObject(o, "outputs", answers_json(s));
    cJSON_AddNumberToObject(o, "score", score);
    if (c->o->save_inputs) cJSON_AddStringToObject(o, "input", s->prompt);
    if (c->lens_json) cJSON_AddItemToObject(o, "lens", c->lens_json);
    c->lens_json = NULL;
    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    const int slot = u->index - c->block_first;
    c->pending[slot] = line;
    if (ensure_output(c, e)) return -1;
    while (c->next_to_write < c->block_count && c->pending[c->next_to_write]) {
        if (c->pending[c->next_to_write] != ALREADY_WRITTEN) {
            fputs(c->pending[c->next_to_write], c->out);
            fputc('\n', c->out);
            free(c->pending[c->next_to_write]);
        }
        c->pending[c->next_to_write++] = NULL;
    }
    fflush(c->out); /* one sample at a time: a kill loses at most those in flight */
    c->done++;
    if (isatty(STDERR_FILENO)) {
        double elapsed = now() - c->t_start, eta = elapsed / (c->done - c->resumed) * (c->total - c->done);
        fprintf(stderr, "\r%s %s @%lld: %d/%d samples, prefill %.0f tokens/s, ETA %.0f s   ", c->variant, u->task,
                (long long)u->length, c->done, c->total,
                c->prefill_tokens / (c->prefill_seconds > 0 ? c->prefill_seconds : 1), eta);
    }
    return 0;
}

/* Runs a block of units (consecutive in predictions.jsonl): here, or spread
 * over MPI ranks when launched by mpirun/srun with more than one process. */
static int run_units(struct run_context *c, int vi, struct unit *units, int n, struct hr_error *e)
{
    c->block_first = units[0].index;
    c->block_count = n;
    c->next_to_write = 0;
    c->pending = calloc((size_t)n, sizeof *c->pending);
    int rc = 0;
    /* Units already in predictions.jsonl (a resumed run) are not run again:
     * their slots count as written. */
    struct unit *todo = malloc((size_t)n * sizeof *todo);
    int m = 0;
    for (int i = 0; i < n; i++) {
        char key[512];
        niah_unit_key(c->o->variants[vi].name, units[i].task, units[i].length, units[i].s->index, units[i].s->depth,
                      key, sizeof key);
        shput(c->order, key, units[i].index);
        if (niah_resume_done(c->resume, key))
            c->pending[i] = ALREADY_WRITTEN;
        else
            todo[m++] = units[i];
    }
    while (c->next_to_write < n && c->pending[c->next_to_write] == ALREADY_WRITTEN)
        c->pending[c->next_to_write++] = NULL;
    if (m > 0) {
        if (niah_mpi_size() > 1) {
            rc = niah_mpi_dispatch(c, vi, todo, m, e);
        } else {
            rc = niah_load_variant(c, vi, e);
            for (int i = 0; rc == 0 && i < m; i++) {
                char *pred;
                c->lens_sample = c->o->lens ? todo[i].s : NULL;
                rc = niah_infer(c, todo[i].s->prompt, &pred, e);
                if (rc == 0) rc = niah_record(c, &todo[i], pred, e);
                if (rc == 0) free(pred);
            }
        }
    }
    free(todo);
    for (int i = 0; i < n; i++)
        if (c->pending[i] == ALREADY_WRITTEN) c->pending[i] = NULL;
    for (int i = 0; i < n; i++) free(c->pending[i]);
    free(c->pending);
    c->pending = NULL;
    return rc;
}

static void dump_sample(FILE *f, const struct niah_task *t, int64_t length, uint64_t seed, const struct niah_sample *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "task", t->name);
    cJSON_AddNumberToObject(o, "length", (double)length);
    cJSON_AddNumberToObject(o, "index", s->index);
    cJSON_AddNumberToObject(o, "depth", s->depth);
    cJSON_AddNumberToObject(o, "seed", (double)seed);
    cJSON_AddNumberToObject(o, "n_tokens", s->n_tokens);
    cJSON_AddStringToObject(o, "input", s->prompt);
    cJSON_AddStringToObject(o, "answer_prefix", s->prompt + s->prefix_at);
    cJSON_AddItemToObject(o, "answers", answers_json(s));
    write_line(f, o);
}

/* The restore a variant runs with: its own (NAME=DIR+METHOD@BASE) or the run's. */
static struct restore_options variant_restore(const struct niah_options *o, int vi)
{
    return variant_restore_options(&o->variants[vi], &o->restore);
}

/* The record of the build and of every variant's models (by content),
 * hashed once per run: run.json's and summary.json's "provenance". */
static cJSON *run_provenance(const struct niah_options *o, struct hr_error *e)
{
    cJSON *p = build_provenance_json(), *vs = cJSON_AddArrayToObject(p, "variants");
    cJSON_AddNumberToObject(p, "processes", niah_mpi_size());
    for (int i = 0; i < o->num_variants; i++) {
        const struct restore_options r = variant_restore(o, i);
        cJSON *v = model_provenance_json(o->variants[i].dir, &r, e);
        if (!v) return cJSON_Delete(p), NULL;
        cJSON_AddStringToObject(v, "name", o->variants[i].name);
        cJSON_AddItemToArray(vs, v);
    }
    return p;
}

static cJSON *run_meta(const struct niah_options *o, const struct essay *es, const char *tok_path,
                       const cJSON *provenance, double elapsed)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "hyrecall_version", build_version());
    if (o->model_dir) cJSON_AddStringToObject(m, "model", o->model_dir);
    cJSON *vs = cJSON_AddArrayToObject(m, "variants");
    for (int i = 0; i < o->num_variants; i++) {
        cJSON *v = cJSON_CreateObject();
        cJSON_AddStringToObject(v, "name", o->variants[i].name);
        cJSON_AddStringToObject(v, "model", o->variants[i].dir);
        if (o->variants[i].base[0]) {
            cJSON_AddStringToObject(v, "restore_from", o->variants[i].base);
            cJSON_AddStringToObject(v, "restore", o->variants[i].restore);
        }
        cJSON_AddItemToArray(vs, v);
    }
    cJSON_AddStringToObject(m, "tokenizer", tok_path);
    cJSON_AddStringToObject(m, "template", o->template_arg);
    cJSON_AddNumberToObject(m, "seed", (double)o->seed);
    cJSON_AddNumberToObject(m, "samples", (double)o->samples);
    cJSON_AddNumberToObject(m, "tokens_to_generate", (double)o->tokens_to_generate);
    cJSON_AddStringToObject(m, "depths", o->num_depths ? "grid" : "ruler-random");
    if (es->words) {
        cJSON_AddStringToObject(m, "haystack", o->haystack);
        cJSON_AddStringToObject(m, "haystack_sha256", es->sha256);
    }
    cJSON_AddStringToObject(m, "wordlists", o->wordlists);
    if (o->restore.base_dir) {
        cJSON_AddStringToObject(m, "restore_from", o->restore.base_dir);
        char spec[32];
        cJSON_AddStringToObject(m, "restore", restore_spec_name(&o->restore, spec, sizeof spec));
    }
    cJSON_AddNumberToObject(m, "threads", cpu_threads());
    cJSON_AddNumberToObject(m, "processes", niah_mpi_size());
    cJSON_AddNumberToObject(m, "elapsed_s", elapsed);
    if (provenance) cJSON_AddItemToObject(m, "provenance", cJSON_Duplicate(provenance, true));
    return m;
}

/* What defines a run's samples and predictions: a resumed run must match. */
static cJSON *run_manifest(const struct niah_options *o, const struct essay *es, const char *tok_sha256,
                           const cJSON *provenance)
{
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(provenance, "variants");
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "format", "hyrecall-niah-run-v1");
    cJSON *vs = cJSON_AddArrayToObject(m, "variants");
    for (int i = 0; i < o->num_variants; i++) {
        cJSON *v = cJSON_CreateObject();
        cJSON_AddStringToObject(v, "name", o->variants[i].name);
        /* The models by content (provenance.h): another spelling of the same
         * directory resumes, other weights in the same place do not. */
        const cJSON *record = cJSON_GetArrayItem(models, i);
        cJSON *files = cJSON_AddObjectToObject(v, "model_files");
        cJSON_AddItemToObject(files, "files",
                              cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(
                                                  cJSON_GetObjectItemCaseSensitive(record, "model"), "files"),
                                              true));
        const bool restored = o->variants[i].base[0] || o->restore.base_dir;
        if (restored) {
            const struct restore_options rv = variant_restore(o, i), *r = &rv;
            cJSON *base = cJSON_AddObjectToObject(v, "restore_from_files");
            cJSON_AddItemToObject(base, "files",
                                  cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(
                                                      cJSON_GetObjectItemCaseSensitive(record, "restore"), "base_files"),
                                                  true));
            char spec[32], parts[32];
            cJSON_AddStringToObject(v, "restore", restore_spec_name(r, spec, sizeof spec));
            cJSON_AddStringToObject(v, "restore_parts", restore_parts_name(r->parts, parts, sizeof parts));
            cJSON_AddNumberToObject(v, "restore_scope", r->scope);
            cJSON *layers = cJSON_AddArrayToObject(v, "restore_layers");
            for (int k = 0; k < r->num_layers; k++) cJSON_AddItemToArray(layers, cJSON_CreateNumber(r->layers[k]));
            cJSON_AddNumberToObject(v, "procrustes_alpha", r->alpha);
            cJSON_AddBoolToObject(v, "restore_biases", r->with_biases);
            cJSON_AddBoolToObject(v, "restore_norms", r->with_norms);
        }
        cJSON_AddItemToArray(vs, v);
    }
    cJSON *tasks = cJSON_AddArrayToObject(m, "tasks");
    for (int t = 0; t < o->num_tasks; t++) cJSON_AddItemToArray(tasks, cJSON_CreateString(o->tasks[t]->name));
    cJSON *lengths = cJSON_AddArrayToObject(m, "lengths");
    for (int l = 0; l < o->num_lengths; l++) cJSON_AddItemToArray(lengths, cJSON_CreateNumber((double)o->lengths[l]));
    cJSON *depths = cJSON_AddArrayToObject(m, "depths");
    for (int d = 0; d < o->num_depths; d++) cJSON_AddItemToArray(depths, cJSON_CreateNumber(o->depths[d]));
    cJSON_AddNumberToObject(m, "samples", (double)o->samples);
    cJSON_AddNumberToObject(m, "seed", (double)o->seed);
    cJSON_AddStringToObject(m, "template", o->wrapper);
    cJSON_AddNumberToObject(m, "tokens_to_generate", (double)o->tokens_to_generate);
    cJSON_AddStringToObject(m, "tokenizer_sha256", tok_sha256);
    cJSON_AddStringToObject(m, "haystack_sha256", es->words ? es->sha256 : "");
    cJSON_AddStringToObject(m, "wordlists", o->wordlists);
    cJSON_AddBoolToObject(m, "save_inputs", o->save_inputs);
    if (o->lens) cJSON_AddBoolToObject(m, "lens", true);
    if (o->prompts) cJSON_AddStringToObject(m, "prompts", o->prompts);
    return m;
}

/* Summaries from the predictions file itself, written atomically: the same
 * bytes whether the run was interrupted or not. */
static int write_summaries(const char *out, const cJSON *meta, bool grid, struct hr_error *e)
{
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/predictions.jsonl", out);
    char *text = read_text_file(path, NULL, e);
    if (!text) return -1;
    struct niah_result *r;
    int n;
    int rc = niah_score_jsonl(path, text, &r, &n, e);
    if (rc) {
        free(text);
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%s/.summary.tmp.%ld", out, (long)getpid());
    if (mkdir(tmp, 0755) != 0) {
        free(r), free(text);
        return hr_fail(e, "%s: cannot create: %s", tmp, strerror(errno));
    }
    rc = niah_write_reports(tmp, r, n, grid, meta, e);
    if (rc == 0) rc = niah_lens_write_reports(tmp, path, e);
    free(r), free(text);
    /* Move each file into place (rename is atomic within the directory's file system). */
    DIR *d = opendir(tmp);
    for (struct dirent *ent; d && (ent = readdir(d));) {
        if (ent->d_name[0] == '.') continue;
        char from[4700], to[4700];
        snprintf(from, sizeof from, "%s/%s", tmp, ent->d_name);
        snprintf(to, sizeof to, "%s/%s", out, ent->d_name);
        if (rc == 0 && rename(from, to) != 0) rc = hr_fail(e, "%s: rename failed: %s", to, strerror(errno));
        unlink(from);
    }
    if (d) closedir(d);
    rmdir(tmp);
    return rc;
}

/* A prompts.jsonl (from --dump-prompts or another tool) as samples. */
struct given_prompts {
    struct niah_sample *samples;
    char (*task)[32];
    int64_t *length;
    uint64_t *seed;
    int n;
};

static void given_prompts_free(struct given_prompts *g)
{
    niah_samples_free(g->samples, g->n);
    free(g->task), free(g->length), free(g->seed);
    memset(g, 0, sizeof *g);
}

static int load_given_prompts(const char *path, struct given_prompts *g, struct hr_error *e)
{
    memset(g, 0, sizeof *g);
    char *text = read_text_file(path, NULL, e);
    if (!text) return -1;
    int cap = 0, line_no = 0, rc = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && rc == 0; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        cJSON *o = cJSON_Parse(line);
        const cJSON *task = cJSON_GetObjectItemCaseSensitive(o, "task"), *input = cJSON_GetObjectItemCaseSensitive(o, "input"),
                    *ans = cJSON_GetObjectItemCaseSensitive(o, "answers"), *len = cJSON_GetObjectItemCaseSensitive(o, "length");
        if (!cJSON_IsString(task) || !cJSON_IsString(input) || !cJSON_IsArray(ans) || !cJSON_IsNumber(len)) {
            rc = hr_fail(e, "%s: line %d: needs 'task', 'length', 'input' and 'answers'", path, line_no);
            cJSON_Delete(o);
            break;
        }
        if (g->n == cap) {
            cap = cap ? 2 * cap : 64;
            g->samples = realloc(g->samples, (size_t)cap * sizeof *g->samples);
            g->task = realloc(g->task, (size_t)cap * sizeof *g->task);
            g->length = realloc(g->length, (size_t)cap * sizeof *g->length);
            g->seed = realloc(g->seed, (size_t)cap * sizeof *g->seed);
        }
        struct niah_sample *s = &g->samples[g->n];
        memset(s, 0, sizeof *s);
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(o, "index"), *dep = cJSON_GetObjectItemCaseSensitive(o, "depth"),
                    *ntok = cJSON_GetObjectItemCaseSensitive(o, "n_tokens"), *seed = cJSON_GetObjectItemCaseSensitive(o, "seed");
        s->index = cJSON_IsNumber(idx) ? idx->valueint : g->n;
        s->depth = cJSON_IsNumber(dep) ? dep->valuedouble : 0;
        s->n_tokens = cJSON_IsNumber(ntok) ? ntok->valueint : (int)strlen(input->valuestring);
        s->prompt = strdup(input->valuestring);
        s->num_answers = cJSON_GetArraySize(ans);
        s->answers = calloc((size_t)(s->num_answers ? s->num_answers : 1), sizeof *s->answers);
        int k = 0;
        for (const cJSON *it = ans->child; it; it = it->next) s->answers[k++] = strdup(cJSON_IsString(it) ? it->valuestring : "");
        snprintf(g->task[g->n], sizeof g->task[g->n], "%s", task->valuestring);
        g->length[g->n] = (int64_t)len->valuedouble;
        g->seed[g->n] = cJSON_IsNumber(seed) && seed->valuedouble >= 0 ? (uint64_t)seed->valuedouble : 0;
        g->n++;
        cJSON_Delete(o);
    }
    free(text);
    if (rc == 0 && g->n == 0) rc = hr_fail(e, "%s: no prompts", path);
    if (rc) given_prompts_free(g);
    return rc;
}

static int cmd_niah_score(int argc, char **argv);
static int niah_run(struct niah_options *op);

int cmd_niah(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "score") == 0) return cmd_niah_score(argc - 1, argv + 1);
    struct niah_options o;
    if (parse(argc, argv, &o)) return EXIT_USAGE;
    niah_mpi_init(&argc, &argv);
    const int rc_all = niah_run(&o);
    niah_mpi_finalize();
    return rc_all;
}

/* The run itself, on every rank. */
static int niah_run(struct niah_options *op)
{
    struct niah_options o = *op;
    cpu_set_threads((int)o.threads);
    struct hr_error e;
    struct run_context c = {.o = &o, .loaded_variant = -1};
    struct niah_resume resume = {0};
    sh_new_strdup(c.order);
    struct given_prompts given = {0};
    for (int l = 0; l < o.num_lengths; l++) c.longest = o.lengths[l] > c.longest ? o.lengths[l] : c.longest;
    struct essay es = {0};
    struct word_keys words = {0};
    bool need_essay = false, need_words = false;
    for (int t = 0; t < o.num_tasks; t++) {
        need_essay |= o.tasks[t]->haystack == HAYSTACK_ESSAY;
        need_words |= o.tasks[t]->key_kind == KIND_WORDS || o.tasks[t]->value_kind == KIND_WORDS;
    }
    char tok_path[4096], tmp[4200] = "";
    snprintf(tok_path, sizeof tok_path, "%s", o.tokenizer ? o.tokenizer : "");
    if (!o.tokenizer) snprintf(tok_path, sizeof tok_path, "%s/tokenizer.json", o.variants[0].dir);
    int rc = EXIT_RUNTIME;
    cJSON *manifest = NULL;
    if (o.lens && niah_mpi_size() > 1) {
        if (niah_mpi_rank() == 0) fprintf(stderr, "hyrecall niah: --lens runs in one process, not under MPI\n");
        return EXIT_USAGE;
    }
    if (niah_mpi_rank() > 0) { /* a worker: the tokenizer and the models, nothing else */
        if (tok_load(tok_path, &c.tok, &e) || niah_mpi_worker(&c, &e)) {
            fprintf(stderr, "hyrecall niah (rank %d): %s\n", niah_mpi_rank(), e.msg);
            rc = EXIT_RUNTIME;
        } else {
            rc = EXIT_OK;
        }
        if (c.have_model) session_free(&c.session), model_free(&c.model);
        tok_free(c.tok);
        return rc;
    }
    if (o.prompts) need_essay = need_words = false; /* the prompts are given */
    if (tok_load(tok_path, &c.tok, &e) || (need_essay && essay_load(o.haystack, &es, &e)) ||
        (need_words && word_keys_load(o.wordlists, &words, &e)) ||
        (o.prompts && load_given_prompts(o.prompts, &given, &e)))
        goto fail;
    if (o.prompts)
        for (int i = 0; i < given.n; i++) c.longest = given.length[i] > c.longest ? given.length[i] : c.longest;
    struct niah_sources src = {.words = need_words ? &words : NULL, .essay = need_essay ? &es : NULL,
                               .count = niah_tokenizer_counter, .count_ctx = c.tok};
    char path[4300], tok_sha[65] = "";
    long tok_len = 0;
    char *tok_text = read_text_file(tok_path, &tok_len, &e);
    if (!tok_text) goto fail;
    sha256_hex_of(tok_text, (size_t)tok_len, tok_sha);
    free(tok_text);
    if (!o.dump && !(c.provenance = run_provenance(&o, &e))) goto fail;
    manifest = run_manifest(&o, &es, tok_sha, c.provenance);
    c.manifest = manifest;
    c.resume = &resume;
    c.out_dir = o.out;
    if (o.dump) { /* prompts: a fresh directory, renamed when complete */
        if (begin_output(o.out, tmp, sizeof tmp, &e)) goto fail;
        snprintf(path, sizeof path, "%s/prompts.jsonl", tmp);
        c.out = fopen(path, "w");
        if (!c.out) {
            hr_fail(&e, "%s: cannot create: %s", path, strerror(errno));
            goto fail;
        }
    } else if (niah_resume_prepare(o.out, manifest, &resume, &e)) {
        goto fail;
    } else if (resume.num_done) {
        c.resumed = resume.num_done;
        fprintf(stderr, "hyrecall niah: resuming %s after %d finished samples%s\n", o.out, resume.num_done,
                resume.recorded_samples < o.samples ? " (extending it to more samples)" : "");
    }
    const int runs = o.dump ? 1 : o.num_variants;
    const int per_variant = o.prompts ? given.n
                                      : o.num_tasks * o.num_lengths * (int)o.samples * (o.num_depths ? o.num_depths : 1);
    c.total = runs * per_variant;
    c.done = c.resumed;
    c.t_start = now();
    int index = 0; /* the sample's place in predictions.jsonl */
    for (int vi = 0; vi < runs; vi++) {
        if (o.prompts) { /* the given prompts, as they are */
            struct unit *units = malloc((size_t)given.n * sizeof *units);
            for (int i = 0; i < given.n; i++)
                units[i] = (struct unit){index++, given.task[i], given.length[i], given.seed[i], &given.samples[i]};
            int r = run_units(&c, vi, units, given.n, &e);
            free(units);
            if (r) goto fail;
            continue;
        }
        for (int t = 0; t < o.num_tasks; t++)
            for (int l = 0; l < o.num_lengths; l++) {
                struct niah_request rq = {.task = o.tasks[t], .length = o.lengths[l],
                                          .tokens_to_generate = (int)o.tokens_to_generate, .chat_wrapper = o.wrapper,
                                          .seed = o.seed, .num_samples = (int)o.samples,
                                          .depths = o.num_depths ? o.depths : NULL, .num_depths = o.num_depths};
                struct niah_sample *samples;
                int n;
                if (niah_generate(&rq, &src, &samples, &n, &e)) goto fail;
                if (o.dump) {
                    for (int i = 0; i < n; i++) dump_sample(c.out, o.tasks[t], o.lengths[l], o.seed, &samples[i]);
                    niah_samples_free(samples, n);
                    continue;
                }
                struct unit *units = malloc((size_t)n * sizeof *units);
                for (int i = 0; i < n; i++)
                    units[i] = (struct unit){index++, o.tasks[t]->name, o.lengths[l], o.seed, &samples[i]};
                int r = run_units(&c, vi, units, n, &e);
                free(units);
                niah_samples_free(samples, n);
                if (r) goto fail;
            }
    }
    if (isatty(STDERR_FILENO) && !o.dump) fprintf(stderr, "\n");
    if (c.out && fclose(c.out) != 0) {
        c.out = NULL;
        hr_fail(&e, "%s: write failed", o.out);
        goto fail;
    }
    c.out = NULL;
    if (o.dump) {
        if (rename(tmp, o.out) != 0) {
            hr_fail(&e, "%s: rename failed: %s", o.out, strerror(errno));
            goto fail;
        }
        tmp[0] = '\0';
    } else {
        /* A run extended to more samples appended them after the earlier
         * ones: put predictions.jsonl in the order a run from scratch writes. */
        if (resume.existed && niah_predictions_reorder(o.out, c.order, &e)) goto fail;
        cJSON *meta = run_meta(&o, &es, tok_path, c.provenance, now() - c.t_start);
        cJSON_AddNumberToObject(meta, "coordination_s", c.coordination_seconds);
        if (niah_mpi_size() > 1)
            fprintf(stderr, "hyrecall niah: %d processes, %.2f s, rank 0 busy (scoring, writing, sending) %.3f%% of it\n",
                    niah_mpi_size(), now() - c.t_start, 100 * c.coordination_seconds / (now() - c.t_start));
        int wr = write_summaries(o.out, meta, o.num_depths > 0, &e);
        cJSON_Delete(meta);
        if (wr) goto fail;
    }
    printf("wrote %s\n", o.out);
    rc = EXIT_OK;
    goto done;
fail:
    fprintf(stderr, "hyrecall niah: %s\n", e.msg);
done:
    niah_mpi_stop_workers();
    given_prompts_free(&given);
    if (c.out) fclose(c.out);
    if (rc != EXIT_OK && tmp[0]) remove_partial(tmp);
    if (c.have_model) {
        session_free(&c.session);
        model_free(&c.model);
    }
    cJSON_Delete(manifest);
    cJSON_Delete(c.provenance);
    niah_resume_free(&resume);
    shfree(c.order);
    tok_free(c.tok);
    essay_free(&es);
    word_keys_free(&words);
    return rc;
}

/* hyrecall niah score FILE: lines with task, pred (or outputs) and answers. */
static int cmd_niah_score(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs("usage: hyrecall niah score PREDICTIONS.jsonl [--out DIR]\n\n"
                  "Rescores predictions made elsewhere with RULER's post-processing and string_match_all. Each line\n"
                  "needs 'task' and 'answers' (gold strings) and the prediction as 'pred' (or, without 'pred',\n"
                  "'outputs', a string or list of strings); 'length' and 'depth' are used when present. Prints the\n"
                  "task x length table; with --out DIR (must not exist) writes summary.csv, summary.json, heat maps.\n",
                  stdout);
            return EXIT_OK;
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (argv[i][0] == '-' || in) {
            cli_usage_error("niah score", "unexpected argument '%s'", argv[i]);
            return EXIT_USAGE;
        } else {
            in = argv[i];
        }
    }
    if (!in) {
        cli_usage_error("niah score", "PREDICTIONS.jsonl is required");
        return EXIT_USAGE;
    }
    struct hr_error e;
    char *text = read_text_file(in, NULL, &e);
    if (!text) {
        fprintf(stderr, "hyrecall niah score: %s\n", e.msg);
        return EXIT_RUNTIME;
    }
    struct niah_result *res = NULL;
    int n = 0, rc = EXIT_OK;
    if (niah_score_jsonl(in, text, &res, &n, &e)) {
        fprintf(stderr, "hyrecall niah score: %s\n", e.msg);
        rc = EXIT_RUNTIME;
    }
    free(text);
    char tmp[4200] = "";
    if (rc == EXIT_OK && out && begin_output(out, tmp, sizeof tmp, &e)) {
        fprintf(stderr, "hyrecall niah score: %s\n", e.msg);
        rc = EXIT_RUNTIME;
    }
    if (rc == EXIT_OK) {
        const char *dir = out ? tmp : "/dev/null/none";
        if (!out) { /* print only: write the reports into a throwaway place */
            char scratch[] = "/tmp/hyrecall-score-XXXXXX";
            dir = mkdtemp(scratch) ? scratch : NULL;
            if (dir && (niah_write_reports(dir, res, n, false, NULL, &e) || niah_lens_write_reports(dir, in, &e)))
                rc = EXIT_RUNTIME;
            if (dir) remove_partial(dir);
        } else if (niah_write_reports(dir, res, n, false, NULL, &e) || niah_lens_write_reports(dir, in, &e) ||
                   rename(tmp, out) != 0) {
            rc = EXIT_RUNTIME;
            remove_partial(tmp);
        }
        if (rc != EXIT_OK) fprintf(stderr, "hyrecall niah score: %s\n", e.msg);
    }
    free(res);
    return rc;
}
