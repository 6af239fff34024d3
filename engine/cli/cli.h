/* The hyrecall command line: one binary, one file per subcommand.
 * Exit codes (documented in README.md and --help):
 *   0 success, 1 failure while running (bad model files, I/O, numerics),
 *   2 usage error (unknown flag, missing or malformed argument). */
#ifndef HYRECALL_CLI_H
#define HYRECALL_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/hyrecall.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

int cmd_inspect(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_niah(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_lens(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_diff(int argc, char **argv);

/* Restore flags shared by the commands that load a model: consumes argv[*i]
 * (and its value) when it is one of them, setting *matched. */
int cli_restore_flag(const char *cmd, int argc, char **argv, int *i, struct restore_options *o, bool *matched);
/* After parsing: a restore option (--restore, --restore-layers, ...) without
 * --restore-from is a usage error, unless the restore comes from elsewhere
 * (niah --compare's NAME=DIR+SPEC@BASE variants). */
int cli_restore_check(const char *cmd, const struct restore_options *o, bool restored_elsewhere);
#define CLI_RESTORE_HELP                                                                                               \
    "  --restore-from BASE   patch W_Q/W_K from the base checkpoint BASE at load time\n"                               \
    "  --restore qk|procrustes  (default qk)   --restore-layers full|attention|linear|all|0,3,7\n"                     \
    "  --restore-parts q,k,v,o (default q,k)   --procrustes-side output|input (default output)\n"                      \
    "  --procrustes-alpha A  --restore-with biases,norms   (see hyrecall restore --help; its spellings\n"              \
    "                        --method, --layers, --parts, --alpha, --with are accepted too)\n"                         \
    "  --max-memory SIZE     refuse runs estimated above SIZE (e.g. 20G; default: available memory;\n"                 \
    "                        'unlimited' skips the check)\n"                                                           \
    "  --compute f32|bf16    how the projections multiply: float32 (default), or activations rounded to\n"             \
    "                        bfloat16 and float32 sums of bf16 products, as GPU bf16 inference (oneDNN)\n"
/* Loads dir, restored when o->base_dir is set, after checking that a run at
 * `context` tokens fits in memory (--max-memory); prints the error. */
int cli_load_model(const char *cmd, const char *dir, const struct restore_options *o, int64_t context, struct model *m);
/* Prints, once, that a run to `tokens` goes past the model's trained context. */
void cli_warn_context(const char *cmd, const struct model *m, int64_t tokens);
/* The --max-memory given to this command: bytes, 0 for the memory available, -1 for no check. */
int64_t cli_max_memory(void);

/* Parses --compare's NAME=DIR[+METHOD@BASE],... into at most max variants. */
int cli_parse_variants(const char *cmd, const char *text, struct variant *out, int max, int *n);

/* Argument helpers: each prints "hyrecall CMD: ..." to stderr on failure and
 * returns -1. */
int cli_parse_int(const char *cmd, const char *flag, const char *text, long min, long max, long *out);
/* A token count: 4096, 4k, 1m (k = 1024). */
int cli_parse_size(const char *cmd, const char *flag, const char *text, int64_t min, int64_t max, int64_t *out);
/* A comma-separated list of token counts (spaces allowed, duplicates refused), at most cap. */
int cli_parse_sizes(const char *cmd, const char *flag, const char *text, int64_t min, int64_t max, int64_t *out,
                    int cap, int *n);
/* text cut at commas into trimmed, non-empty items (pointers into buf); -1 past cap. */
int cli_split_list(const char *text, char *buf, size_t size, char **items, int cap);
/* Comma- or space-separated token ids ("1,2,3"); *ids is malloc'd. */
int cli_parse_ids(const char *cmd, const char *flag, const char *text, int32_t **ids, int *n);
/* The value after flag argv[*i]; advances *i. */
const char *cli_value(const char *cmd, int argc, char **argv, int *i);
/* The candidate closest to a misspelled word (within a third of its length,
 * at most 3 edits), or NULL: for "did you mean" in usage errors. */
const char *cli_did_you_mean(const char *word, const char *const *candidates, int n);
/* "unknown option", with the closest flag of the command's help text when one is near. */
int cli_unknown_option(const char *cmd, const char *arg, const char *help);
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
