/* The NIAH runner: a run's work units (variant x task x length x sample) in
 * predictions.jsonl order, run here or spread over MPI ranks (niah_mpi.c),
 * each prediction scored and appended as it finishes, an existing run
 * resumed by content (niah_resume.c), the reports written at the end. */
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/base/clock.h"
#include "engine/base/files.h"
#include "engine/hyrecall.h"
#include "niah/niah_generate.h"
#include "niah/niah_report.h"
#include "niah/niah_score.h"
#include "niah/run/given_prompts.h"
#include "niah/run/niah_lens.h"
#include "niah/run/niah_resume.h"
#include "niah/run/niah_run.h"
#include "niah/run/progress.h"
#include "niah/sha256.h"
#include "stb_ds.h"
#include "tokenizer/tokenizer.h"

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
    char path[4200];
    if (mkdir(c->out_dir, 0755) != 0 && errno != EEXIST)
        return hr_fail(e, "%s: cannot create: %s", c->out_dir, strerror(errno));
    /* run.json: the manifest (a resumed run's equals it but for a raised
     * --samples) and the record of the process that writes it. */
    snprintf(path, sizeof path, "%s/run.json", c->out_dir);
    cJSON *record = cJSON_Duplicate(c->manifest, true);
    cJSON_AddItemToObject(record, "provenance", cJSON_Duplicate(c->provenance, true));
    char *text = cJSON_Print(record);
    cJSON_Delete(record);
    const size_t len = strlen(text);
    char *line = malloc(len + 2);
    memcpy(line, text, len), memcpy(line + len, "\n", 2);
    const int rc = write_text_file_atomic(path, line, true, e);
    free(line), free(text);
    if (rc) return -1;
    snprintf(path, sizeof path, "%s/predictions.jsonl", c->out_dir);
    c->out = fopen(path, "a");
    return c->out ? 0 : hr_fail(e, "%s: cannot open for appending: %s", path, strerror(errno));
}

bool niah_prefix_reuse(const struct niah_options *o)
{
    /* The lens reads every prompt position's keys as the prefill passes them. */
    return !o->no_prefix_cache && !o->lens;
}

static void unload_variant(struct run_context *c)
{
    if (!c->have_model) return;
    if (c->prefix_on) prefix_cache_free(&c->prefix);
    c->prefix_on = false;
    session_free(&c->session);
    model_free(&c->model);
    c->have_model = false;
}

/* Loads variant vi into c (the model, its session, its prefix cache and stop
 * ids); a no-op when it is already loaded. */
int niah_load_variant(struct run_context *c, int vi, struct hr_error *e)
{
    const struct niah_options *o = c->o;
    if (c->have_model && c->loaded_variant == vi) return 0;
    unload_variant(c);
    const struct variant *v = &o->variants[vi];
    const struct restore_options ro = variant_restore_options(v, &o->restore);
    c->variant = v->name;
    const int64_t snapshots = niah_prefix_reuse(o) ? PREFIX_CACHE_DEFAULT_BYTES : 0;
    if (model_load_within(v->dir, &ro, c->longest, snapshots, o->max_memory, &c->model, e)) return -1;
    const char *warning = model_context_warning(&c->model, c->longest);
    if (warning && vi == 0) fprintf(stderr, "hyrecall niah: %s\n", warning);
    c->have_model = true;
    c->loaded_variant = vi;
    if (session_init(&c->session, &c->model, 0, e)) return -1;
    if (niah_prefix_reuse(o)) {
        if (prefix_cache_init(&c->prefix, &c->session, c->longest, PREFIX_CACHE_DEFAULT_BYTES, e)) return -1;
        c->prefix_on = true;
    }
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
    for (int i = 0; i < n; i++)
        if (ids[i] >= c->model.cfg.vocab_size) {
            hr_fail(e,
                    "the tokenizer gives token id %d, outside the vocabulary of %s (%d ids): the tokenizer and the "
                    "model do not match (give -t with the model's own tokenizer.json)",
                    ids[i], c->model.cfg.path, c->model.cfg.vocab_size);
            free(ids), free(gen);
            return -1;
        }
    if (!c->prefix_on) session_reset(&c->session); /* the prefix cache starts where it can */
    struct lens lens = {0};
    const bool observe = c->lens_sample && n > 0;
    if (observe && niah_lens_begin(&lens, &c->model, n - 1)) {
        lens_free(&lens);
        free(ids), free(gen);
        return hr_fail(e, "out of memory for the lens");
    }
    const struct session_observer observer = lens_observer(&lens);
    if (observe) session_set_observer(&c->session, &observer); /* the prefill fills the rows of P = n − 1 */
    double t0 = clock_seconds();
    struct generate_request r = {.prompt = ids,
                                 .prompt_len = n,
                                 .max_new = (int)c->o->tokens_to_generate,
                                 .stop_ids = c->stop_ids,
                                 .num_stop = c->num_stop,
                                 .prefix = c->prefix_on ? &c->prefix : NULL};
    const int64_t reused_before = c->prefix_on ? c->prefix.reused_tokens : 0;
    int rc = generate_greedy(&c->session, &r, gen, &n_gen, e);
    c->prefill_seconds += clock_seconds() - t0;
    c->prefill_tokens += n;
    if (c->prefix_on) c->reused_tokens += c->prefix.reused_tokens - reused_before;
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

/* The predictions line of a unit: scored here and appended as soon as it is
 * made, whatever its place (samples finish out of order under MPI and with
 * prefix reuse), so that a kill loses at most the samples in flight; the run
 * puts the file in sample order when it ends (niah_predictions_reorder). */
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
    cJSON_AddNumberToObject(o, "depth", round(s->depth * 100) / 100); /* percent, to 2 decimals */
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
    if (ensure_output(c, e)) {
        free(line);
        return -1;
    }
    fprintf(c->out, "%s\n", line);
    free(line);
    fflush(c->out);
    c->done++;
    progress_sample(&c->progress, c->variant, u->task, u->length, c->done, c->total, c->resumed,
                    c->prefill_tokens / (c->prefill_seconds > 0 ? c->prefill_seconds : 1),
                    clock_seconds() - c->t_start);
    return 0;
}

/* Runs a block of units (consecutive in predictions.jsonl): here, or spread
 * over MPI ranks when launched by mpirun/srun with more than one process. */
static int run_units(struct run_context *c, int vi, struct unit *units, int n, struct hr_error *e)
{
    int rc = 0;
    /* Units already in predictions.jsonl (a resumed run) are not run again. */
    struct unit *todo = malloc((size_t)n * sizeof *todo);
    int m = 0;
    for (int i = 0; i < n; i++) {
        char key[512];
        niah_unit_key(c->o->variants[vi].name, units[i].task, units[i].length, units[i].s->index, units[i].s->depth,
                      key, sizeof key);
        shput(c->order, key, units[i].index);
        if (!niah_resume_done(c->resume, key)) todo[m++] = units[i];
    }
    if (niah_prefix_reuse(c->o)) niah_prefix_order(todo, m);
    if (m > 0) {
        if (niah_mpi_size() > 1) {
            rc = niah_mpi_dispatch(c, vi, todo, m, e);
        } else {
            rc = niah_load_variant(c, vi, e);
            for (int i = 0; rc == 0 && i < m; i++) {
                if (stop_requested()) {
                    progress_end(&c->progress);
                    c->interrupted = true;
                    rc = hr_fail(e,
                                 "stopped on request with %d of %d samples in %s/predictions.jsonl; run the same "
                                 "command again to resume",
                                 c->done, c->total, c->out_dir);
                    break;
                }
                char *pred;
                c->lens_sample = c->o->lens ? todo[i].s : NULL;
                rc = niah_infer(c, todo[i].s->prompt, &pred, e);
                if (rc == 0) rc = niah_record(c, &todo[i], pred, e);
                if (rc == 0) free(pred);
            }
        }
    }
    free(todo);
    return rc;
}

static void dump_sample(FILE *f, const struct niah_task *t, int64_t length, uint64_t seed, const struct niah_sample *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "task", t->name);
    cJSON_AddNumberToObject(o, "length", (double)length);
    cJSON_AddNumberToObject(o, "index", s->index);
    cJSON_AddNumberToObject(o, "depth", round(s->depth * 100) / 100); /* percent, to 2 decimals */
    cJSON_AddNumberToObject(o, "seed", (double)seed);
    cJSON_AddNumberToObject(o, "n_tokens", s->n_tokens);
    cJSON_AddStringToObject(o, "input", s->prompt);
    cJSON_AddStringToObject(o, "answer_prefix", s->prompt + s->prefix_at);
    cJSON_AddItemToObject(o, "answers", answers_json(s));
    write_line(f, o);
}

/* Summaries from the predictions file itself, written atomically: the same
 * bytes whether the run was interrupted or not. */
static int write_summaries(const char *out, const cJSON *meta, bool grid, struct hr_error *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/predictions.jsonl", out);
    char *text = read_text_file(path, NULL, e);
    if (!text) return -1;
    struct niah_result *r;
    int n;
    struct atomic_output reports;
    if (niah_score_jsonl(path, text, &r, &n, e)) {
        free(text);
        return -1;
    }
    int rc = atomic_begin(&reports, ATOMIC_MERGE, out, false, e);
    if (rc == 0) rc = niah_write_reports(reports.tmp, r, n, grid, meta, e);
    if (rc == 0) rc = niah_lens_write_reports(reports.tmp, path, e);
    free(r), free(text);
    if (rc == 0) return atomic_commit(&reports, e);
    if (reports.tmp) atomic_abort(&reports);
    return -1;
}

/* The run itself, on every rank. */
int niah_run(struct niah_options *op)
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
    char tok_path[4096];
    struct atomic_output dump_dir = {0}; /* --dump-prompts: a fresh directory, renamed when complete */
    snprintf(tok_path, sizeof tok_path, "%s", o.tokenizer ? o.tokenizer : "");
    if (!o.tokenizer) snprintf(tok_path, sizeof tok_path, "%s/tokenizer.json", o.variants[0].dir);
    int rc = NIAH_RUN_FAILED;
    cJSON *manifest = NULL;
    if (o.lens && niah_mpi_size() > 1) {
        if (niah_mpi_rank() == 0) fprintf(stderr, "hyrecall niah: --lens runs in one process, not under MPI\n");
        return NIAH_RUN_USAGE;
    }
    if (niah_mpi_rank() > 0) { /* a worker: the tokenizer and the models, nothing else */
        if (tok_load(tok_path, &c.tok, &e) || niah_mpi_worker(&c, &e)) {
            fprintf(stderr, "hyrecall niah (rank %d): %s\n", niah_mpi_rank(), e.msg);
            rc = NIAH_RUN_FAILED;
        } else {
            rc = NIAH_RUN_OK;
        }
        unload_variant(&c);
        tok_free(c.tok);
        return rc;
    }
    if (o.prompts) need_essay = need_words = false; /* the prompts are given */
    /* A haystack given but not readable is an error even when no task reads it. */
    if (strcmp(o.haystack, HYRECALL_DEFAULT_HAYSTACK) != 0 && access(o.haystack, R_OK) != 0) {
        hr_fail(&e, "%s: cannot open: %s (--haystack)", o.haystack, strerror(errno));
        goto fail;
    }
    /* A missing model is named as such, before its tokenizer is looked for. */
    for (int vi = 0; vi < o.num_variants; vi++) {
        struct stat st;
        if (stat(o.variants[vi].dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            hr_fail(&e, "%s: %s", o.variants[vi].dir,
                    access(o.variants[vi].dir, F_OK) == 0
                        ? "is a file; give the model directory that holds it (config.json, model.safetensors)"
                        : "no such model directory (it should hold config.json and model.safetensors)");
            goto fail;
        }
    }
    if (tok_load(tok_path, &c.tok, &e) || (need_essay && essay_load(o.haystack, &es, &e)) ||
        (need_words && word_keys_load(o.wordlists, &words, &e)) ||
        (o.prompts && given_prompts_load(o.prompts, &given, &e)))
        goto fail;
    if (o.prompts)
        for (int i = 0; i < given.n; i++) c.longest = given.tokens[i] > c.longest ? given.tokens[i] : c.longest;
    struct niah_sources src = {.words = need_words ? &words : NULL,
                               .essay = need_essay ? &es : NULL,
                               .count = niah_tokenizer_counter,
                               .count_ctx = c.tok};
    char path[4300], tok_sha[65] = "";
    long tok_len = 0;
    char *tok_text = read_text_file(tok_path, &tok_len, &e);
    if (!tok_text) goto fail;
    sha256_hex_of(tok_text, (size_t)tok_len, tok_sha);
    free(tok_text);
    if (!o.dump && !(c.provenance = niah_run_provenance(&o, &e))) goto fail;
    manifest = niah_run_manifest(&o, &es, tok_sha, c.provenance);
    c.manifest = manifest;
    c.resume = &resume;
    c.out_dir = o.out;
    if (o.dump) { /* prompts: a fresh directory, renamed when complete */
        if (atomic_begin(&dump_dir, ATOMIC_DIRECTORY, o.out, false, &e)) goto fail;
        snprintf(path, sizeof path, "%s/prompts.jsonl", dump_dir.tmp);
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
    const int per_variant =
        o.prompts ? given.n : o.num_tasks * o.num_lengths * (int)o.samples * (o.num_depths ? o.num_depths : 1);
    c.total = runs * per_variant;
    c.done = c.resumed;
    c.t_start = clock_seconds();
    progress_begin(&c.progress, o.dump ? PROGRESS_NEVER : o.progress);
    if (niah_mpi_size() == 1 && !o.dump) stop_requests_catch();
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
                struct niah_request rq = {.task = o.tasks[t],
                                          .length = o.lengths[l],
                                          .tokens_to_generate = (int)o.tokens_to_generate,
                                          .chat_wrapper = o.wrapper,
                                          .seed = o.seed,
                                          .num_samples = (int)o.samples,
                                          .depths = o.num_depths ? o.depths : NULL,
                                          .num_depths = o.num_depths};
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
    progress_end(&c.progress);
    if (c.out && fclose(c.out) != 0) {
        c.out = NULL;
        hr_fail(&e, "%s: write failed", o.out);
        goto fail;
    }
    c.out = NULL;
    if (o.dump) {
        if (atomic_commit(&dump_dir, &e)) goto fail;
    } else {
        /* Lines went out as samples finished (and a run extended to more
         * samples appended them after the earlier ones): put predictions.jsonl
         * in sample order, the same file whatever the order of the work. */
        if (niah_predictions_reorder(o.out, c.order, &e)) goto fail;
        cJSON *meta = niah_run_meta(&o, &es, tok_path, c.provenance, clock_seconds() - c.t_start);
        cJSON_AddNumberToObject(meta, "coordination_s", c.coordination_seconds);
        cJSON_AddBoolToObject(meta, "prefix_cache", niah_prefix_reuse(&o));
        if (niah_mpi_size() == 1 && c.prefill_tokens > 0 && niah_prefix_reuse(&o)) /* workers count their own */
            fprintf(stderr, "hyrecall niah: the prefix cache reused %.0f of %.0f prompt tokens (%.1f%%)\n",
                    c.reused_tokens, c.prefill_tokens, 100 * c.reused_tokens / c.prefill_tokens);
        if (niah_mpi_size() > 1)
            fprintf(stderr,
                    "hyrecall niah: %d processes, %.2f s, rank 0 busy (scoring, writing, sending) %.3f%% of it\n",
                    niah_mpi_size(), clock_seconds() - c.t_start,
                    100 * c.coordination_seconds / (clock_seconds() - c.t_start));
        int wr = write_summaries(o.out, meta, o.num_depths > 0, &e);
        cJSON_Delete(meta);
        if (wr) goto fail;
    }
    printf("wrote %s\n", o.out);
    rc = NIAH_RUN_OK;
    goto done;
fail:
    progress_end(&c.progress);
    fprintf(stderr, "hyrecall niah: %s\n", e.msg);
    if (c.interrupted) rc = NIAH_RUN_INTERRUPTED;
done:
    niah_mpi_stop_workers();
    given_prompts_free(&given);
    if (c.out) fclose(c.out);
    if (dump_dir.tmp) atomic_abort(&dump_dir); /* a failed --dump-prompts leaves nothing */
    unload_variant(&c);
    cJSON_Delete(manifest);
    cJSON_Delete(c.provenance);
    niah_resume_free(&resume);
    shfree(c.order);
    tok_free(c.tok);
    essay_free(&es);
    word_keys_free(&words);
    return rc;
}
