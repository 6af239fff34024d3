/* The state of a `hyrecall niah` run, shared by the single-process path
 * (cmd_niah.c) and the MPI distribution (niah_mpi.c). */
#ifndef HYRECALL_NIAH_RUN_H
#define HYRECALL_NIAH_RUN_H

#include <cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/hyrecall.h"
#include "niah/niah_generate.h"
#include "niah/niah_haystack.h"
#include "niah/run/niah_resume.h"
#include "niah/run/progress.h"
#include "tokenizer/tokenizer.h"

struct niah_options {
    struct variant variants[8];
    int num_variants;
    const char *model_dir, *tokenizer, *out, *haystack, *wordlists, *template_arg, *wrapper, *prompts;
    const struct niah_task *tasks[8];
    int num_tasks;
    int64_t lengths[32];
    int num_lengths;
    int depths[64];
    int num_depths;
    long samples, threads, tokens_to_generate;
    uint64_t seed;
    bool dump, save_inputs, lens;
    bool no_prefix_cache; /* --no-prefix-cache: prefill every prompt from position 0 */
    struct restore_options restore;
    int64_t max_memory; /* bytes; 0: the memory available; -1: no check (memory_plan.h) */
    enum progress_mode progress;
};

/* One sample of one variant: its place in predictions.jsonl and its prompt. */
struct unit {
    int index;
    const char *task;
    int64_t length;
    uint64_t seed;
    const struct niah_sample *s;
};

struct run_context {
    struct niah_options *o;
    const char *variant;
    const char *out_dir;   /* created on the first prediction */
    const cJSON *manifest; /* written there as run.json */
    struct tokenizer *tok;
    struct model model;
    struct session session;
    struct prefix_cache prefix; /* the session's, unless --no-prefix-cache or --lens (prefix_on) */
    bool prefix_on;
    bool have_model;
    int loaded_variant;
    int64_t longest; /* the longest length of the run, for memory planning */
    int stop_ids[9], num_stop;
    FILE *out;
    struct niah_resume *resume; /* what an existing --out already holds */
    int resumed;                /* samples already in predictions.jsonl */
    struct niah_key_set *order; /* every unit's key -> its place in predictions.jsonl */
    cJSON *provenance;          /* build and models, for run.json */
    struct progress progress;
    bool interrupted; /* stopped on Ctrl-C / SIGTERM: the finished samples are saved */
    double t_start, prefill_tokens, prefill_seconds, coordination_seconds;
    double reused_tokens; /* prompt tokens the prefix cache did not recompute (this process) */
    int done, total;
    const struct niah_sample *lens_sample; /* --lens: the sample being run (single process) */
    cJSON *lens_json;                      /* its measurements, for niah_record */
};

/* The whole run on this process (rank 0 coordinates, other ranks work);
 * prints its error. Returns an exit code: */
enum { NIAH_RUN_OK = 0, NIAH_RUN_FAILED = 1, NIAH_RUN_USAGE = 2, NIAH_RUN_INTERRUPTED = 130 };
int niah_run(struct niah_options *o);

/* run.json's manifest and provenance, summary.json's metadata (manifest.c). */
cJSON *niah_run_provenance(const struct niah_options *o, struct hr_error *e);
cJSON *niah_run_manifest(const struct niah_options *o, const struct essay *es, const char *tok_sha256,
                         const cJSON *provenance);
cJSON *niah_run_meta(const struct niah_options *o, const struct essay *es, const char *tok_path,
                     const cJSON *provenance, double elapsed);

/* Whether the run reuses prompt prefixes (engine/prefix_cache.h): on unless
 * --no-prefix-cache or --lens. */
bool niah_prefix_reuse(const struct niah_options *o);
/* Puts a block's units in the order that lets each reuse most of the one
 * before (prefix_order.c): longest first, then by how far each prompt's
 * beginning is shared with another's, deepest first. */
void niah_prefix_order(struct unit *units, int n);
int niah_load_variant(struct run_context *c, int vi, struct hr_error *e);
int niah_infer(struct run_context *c, const char *prompt, char **pred, struct hr_error *e);
int niah_record(struct run_context *c, const struct unit *u, const char *pred, struct hr_error *e);

/* MPI (niah_mpi.c): without MPI support, or when not launched by mpirun or
 * srun, size is 1 and rank 0. */
void niah_mpi_init(int *argc, char ***argv);
void niah_mpi_finalize(void);
int niah_mpi_rank(void);
int niah_mpi_size(void);
/* Rank 0: hands the units out longest first, records the predictions. */
int niah_mpi_dispatch(struct run_context *c, int vi, struct unit *units, int n, struct hr_error *e);
/* Other ranks: run what rank 0 sends until it says stop. */
int niah_mpi_worker(struct run_context *c, struct hr_error *e);
/* Rank 0 tells the workers the run is over (or failed). */
void niah_mpi_stop_workers(void);

#endif
