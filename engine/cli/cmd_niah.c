/* hyrecall niah: RULER's needle-in-a-haystack tasks, generated, run, scored. */
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/base/clock.h"
#include "engine/base/files.h"
#include "engine/cli/cli.h"
#include "engine/hyrecall.h"
#include "niah/niah_generate.h"
#include "niah/niah_report.h"
#include "niah/niah_score.h"
#include "niah/run/niah_lens.h"
#include "niah/run/niah_resume.h"
#include "niah/run/niah_run.h"
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
    "                        tool: lines with task, length, index, input, answers) exactly as given; or\n"
    "                        RULER's data/TASK/validation.jsonl (input + answer_prefix, outputs; the task from\n"
    "                        its directory, the length from the one above data/). Not with --tasks,\n"
    "                        --lengths, --samples, --depths or --seed: the file decides those\n"
    "  --compare LIST        A/B: run the same samples on several variants instead of -m, e.g.\n"
    "                        base=DIR,sft=DIR,restored=DIR+qk@BASE_DIR (METHOD qk or procrustes; the\n"
    "                        --restore-layers/--procrustes-alpha/--restore-with flags apply to it);\n"
    "                        one table and one heat map per task with a panel per variant\n"
    "  --no-prefix-cache     prefill every prompt from its start. By default the samples of a task and\n"
    "                        length run in the order of their shared beginnings (template and haystack up\n"
    "                        to the first needle) and each restarts from the state saved inside the part it\n"
    "                        shares with the one before (at most 1 GiB of saved states; not with --lens):\n"
    "                        the same predictions, bit for bit, in less time\n"
    "  --threads N\n"
    "  --progress MODE       auto (default): a live line on a terminal, else a plain line every 10 s;\n"
    "                        always: a plain line after every sample; never\n" CLI_RESTORE_HELP
    "\nCtrl-C (or SIGTERM) stops after the sample in flight, keeping every finished one (exit code 130);\n"
    "a second Ctrl-C stops at once.\nA run in an existing DIR resumes it: the samples already in DIR/predictions.jsonl "
    "are kept, the\n"
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
    "  summary_ruler.csv  RULER's summary layout (Tasks / Score / Nulls rows), one per variant and length\n"
    "                     (summary_ruler_VARIANT_LENGTH.csv when there are several)\n"
    "  heatmap_TASK.svg   depth x length heat map per task\n\n"
    "Under MPI (mpirun -np N hyrecall niah ..., or srun) rank 0 hands out samples longest first and\n"
    "writes the same files as a single process; --threads is per rank.\n\n"
    "exit codes: 0 ok, 1 invalid model, tokenizer, haystack or output directory, 2 usage error\n";

static int parse_tasks(const char *text, struct niah_options *o)
{
    char buf[512], *items[8];
    o->num_tasks = cli_split_list(text, buf, sizeof buf, items, 8);
    if (o->num_tasks < 0) return cli_usage_error("niah", "--tasks names more than the 8 tasks ('%s')", text);
    for (int i = 0; i < o->num_tasks; i++) {
        const struct niah_task *t = niah_task_find(items[i]);
        if (!t) {
            const char *names[16];
            for (int k = 0; k < 8; k++) names[k] = niah_tasks[k].name, names[8 + k] = niah_tasks[k].short_name;
            const char *guess = cli_did_you_mean(items[i], names, 16);
            char hint[96] = "";
            if (guess) snprintf(hint, sizeof hint, "did you mean '%s'? ", guess);
            return cli_usage_error("niah",
                                   "unknown task '%s' (%sniah_single_1..3, niah_multikey_1..3, niah_multivalue, "
                                   "niah_multiquery, or S1..S3, MK1..MK3, MV, MQ)",
                                   items[i], hint);
        }
        for (int k = 0; k < i; k++)
            if (o->tasks[k] == t) return cli_usage_error("niah", "--tasks names %s twice ('%s')", t->name, text);
        o->tasks[i] = t;
    }
    return o->num_tasks ? 0 : cli_usage_error("niah", "--tasks is empty");
}

static int parse_depths(const char *text, struct niah_options *o)
{
    char buf[512], *items[64];
    o->num_depths = cli_split_list(text, buf, sizeof buf, items, 64);
    if (o->num_depths < 0) return cli_usage_error("niah", "--depths takes at most 64 values ('%s')", text);
    for (int i = 0; i < o->num_depths; i++) {
        long v;
        if (cli_parse_int("niah", "--depths", items[i], 0, 100, &v)) return -1;
        o->depths[i] = (int)v;
    }
    return o->num_depths ? 0 : cli_usage_error("niah", "--depths is empty");
}

static int parse(int argc, char **argv, struct niah_options *o)
{
    const char *generator_flag = NULL; /* a flag that shapes generated prompts (not --prompts') */
    memset(o, 0, sizeof *o);
    o->samples = 20;
    o->seed = 42;
    o->tokens_to_generate = NIAH_TOKENS_TO_GENERATE;
    o->haystack = HYRECALL_DEFAULT_HAYSTACK;
    o->wordlists = HYRECALL_DEFAULT_WORDLISTS;
    o->template_arg = "base";
    restore_options_default(&o->restore);
    parse_tasks("niah_single_1,niah_single_2,niah_single_3", o);
    o->lengths[0] = 4096, o->num_lengths = 1;
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
        } else if (strcmp(a, "--no-prefix-cache") == 0) {
            o->no_prefix_cache = true;
        } else if (!(v = cli_value("niah", argc, argv, &i))) {
            return -1;
        } else if (strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0) {
            o->model_dir = v;
        } else if (strcmp(a, "-t") == 0 || strcmp(a, "--tokenizer") == 0) {
            /* llama.cpp's -t is threads; here it is the tokenizer (RULER's flag) */
            if (strspn(v, "0123456789") == strlen(v) && access(v, F_OK) != 0)
                return cli_usage_error("niah", "%s %s: -t is the tokenizer.json here; for threads give --threads %s", a,
                                       v, v);
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
            if (!generator_flag) generator_flag = a;
            if (parse_tasks(v, o)) return -1;
        } else if (strcmp(a, "--compare") == 0) {
            if (cli_parse_variants("niah", v, o->variants, 8, &o->num_variants)) return -1;
        } else if (strcmp(a, "--prompts") == 0) {
            o->prompts = v;
        } else if (strcmp(a, "--lengths") == 0) {
            if (!generator_flag) generator_flag = a;
            if (cli_parse_sizes("niah", a, v, 1, 1000000000, o->lengths, 32, &o->num_lengths)) return -1;
        } else if (strcmp(a, "--depths") == 0) {
            if (!generator_flag) generator_flag = a;
            if (parse_depths(v, o)) return -1;
        } else if (strcmp(a, "--samples") == 0) {
            if (!generator_flag) generator_flag = a;
            if (cli_parse_int("niah", a, v, 1, 1000000, &o->samples)) return -1;
        } else if (strcmp(a, "--tokens-to-generate") == 0) {
            if (cli_parse_int("niah", a, v, 1, 1 << 20, &o->tokens_to_generate)) return -1;
        } else if (strcmp(a, "--threads") == 0) {
            if (cli_parse_int("niah", a, v, 1, 4096, &o->threads)) return -1;
        } else if (strcmp(a, "--progress") == 0) {
            if (progress_parse(v, &o->progress))
                return cli_usage_error("niah", "--progress expects auto, always or never, got '%s'", v);
        } else if (strcmp(a, "--seed") == 0) {
            if (!generator_flag) generator_flag = a;
            long s;
            if (cli_parse_int("niah", a, v, 0, 2147483647L, &s)) return -1;
            o->seed = (uint64_t)s;
        } else {
            return cli_unknown_option("niah", a, HELP);
        }
    }
    o->wrapper = niah_chat_template(o->template_arg);
    if (!o->wrapper) {
        if (!strstr(o->template_arg, "{task_template}"))
            return cli_usage_error("niah", "--template '%s' is neither a known name nor text with {task_template}",
                                   o->template_arg);
        o->wrapper = o->template_arg;
    }
    if (!o->out) return cli_usage_error("niah", "--out DIR is required");
    if (o->dump && !o->tokenizer) return cli_usage_error("niah", "--dump-prompts needs -t TOKENIZER_JSON");
    if (o->dump && o->prompts) return cli_usage_error("niah", "--prompts and --dump-prompts exclude each other");
    if (o->prompts && generator_flag)
        return cli_usage_error("niah",
                               "%s does not apply to --prompts (the given prompts run as they are: their tasks, "
                               "lengths and samples are the file's)",
                               generator_flag);
    if (o->dump && o->lens) return cli_usage_error("niah", "--lens needs a model run, not --dump-prompts");
    if (o->num_variants && o->model_dir) return cli_usage_error("niah", "give either -m or --compare, not both");
    if (o->num_variants && o->restore.base_dir)
        return cli_usage_error("niah", "with --compare, restore per variant: NAME=DIR+qk@BASE");
    bool variant_restored = false;
    for (int k = 0; k < o->num_variants; k++) variant_restored |= o->variants[k].base[0] != '\0';
    if (cli_restore_check("niah", &o->restore, variant_restored)) return -1;
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

static int cmd_niah_score(int argc, char **argv);

int cmd_niah(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "score") == 0) return cmd_niah_score(argc - 1, argv + 1);
    struct niah_options o;
    if (parse(argc, argv, &o)) return EXIT_USAGE;
    o.max_memory = cli_max_memory();
    niah_mpi_init(&argc, &argv);
    const int rc_all = niah_run(&o);
    niah_mpi_finalize();
    return rc_all;
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
                  "'outputs', a string or list of strings); 'length' and 'depth' are used when present, and a line\n"
                  "without them is counted under 'unknown', not as 0K or depth 0. RULER's own predictions work as\n"
                  "they are: pred/TASK.jsonl (pred; the gold strings as outputs; the task from the file name, the\n"
                  "length from the directory above pred/). Prints the task x length table; with --out DIR (must\n"
                  "not exist) writes summary.csv, summary.json, summary_ruler.csv (RULER's layout), heat maps.\n",
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
    /* The reports go to --out, or (printing only) to a scratch directory
     * under $TMPDIR that is removed with everything in it. */
    struct atomic_output reports = {0};
    char scratch[4200];
    snprintf(scratch, sizeof scratch, "%s/hyrecall-score", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (rc == EXIT_OK && (atomic_begin(&reports, ATOMIC_DIRECTORY, out ? out : scratch, !out, &e) ||
                          niah_write_reports(reports.tmp, res, n, false, NULL, &e) ||
                          niah_lens_write_reports(reports.tmp, in, &e) || (out && atomic_commit(&reports, &e)))) {
        fprintf(stderr, "hyrecall niah score: %s\n", e.msg);
        rc = EXIT_RUNTIME;
    }
    if (reports.tmp) atomic_abort(&reports); /* printing only, or a failure */
    free(res);
    return rc;
}
