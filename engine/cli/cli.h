/* The hyrecall command line: one binary, one file per subcommand.
 * Exit codes (documented in README.md and --help):
 *   0 success, 1 failure while running (bad model files, I/O, numerics),
 *   2 usage error (unknown flag, missing or malformed argument). */
#ifndef HYRECALL_CLI_H
#define HYRECALL_CLI_H

#include <stdbool.h>
#include <stdint.h>

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

int cmd_inspect(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);

/* Argument helpers: each prints "hyrecall CMD: ..." to stderr on failure and
 * returns -1. */
int cli_parse_int(const char *cmd, const char *flag, const char *text, long min, long max, long *out);
/* Comma- or space-separated token ids ("1,2,3"); *ids is malloc'd. */
int cli_parse_ids(const char *cmd, const char *flag, const char *text, int32_t **ids, int *n);
/* The value after flag argv[*i]; advances *i. */
const char *cli_value(const char *cmd, int argc, char **argv, int *i);
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
