#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cli/cli.h"

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "hyrecall %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see hyrecall %s --help)\n", cmd);
    return -1;
}

int cli_parse_int(const char *cmd, const char *flag, const char *text, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max)
        return cli_usage_error(cmd, "%s expects an integer in [%ld, %ld], got '%s'", flag, min, max, text);
    *out = v;
    return 0;
}

int cli_parse_ids(const char *cmd, const char *flag, const char *text, int32_t **ids, int *n)
{
    *ids = NULL;
    *n = 0;
    size_t cap = 0;
    const char *p = text;
    while (*p) {
        while (*p == ',' || *p == ' ') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || v < 0 || v > INT32_MAX || (*end && *end != ',' && *end != ' ')) {
            free(*ids);
            *ids = NULL;
            return cli_usage_error(cmd, "%s expects non-negative integer ids separated by commas, got '%s'", flag,
                                   text);
        }
        if ((size_t)*n == cap) {
            cap = cap ? 2 * cap : 64;
            *ids = realloc(*ids, cap * sizeof **ids);
        }
        (*ids)[(*n)++] = (int32_t)v;
        p = end;
    }
    if (*n == 0) return cli_usage_error(cmd, "%s needs at least one token id", flag);
    return 0;
}

const char *cli_value(const char *cmd, int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        cli_usage_error(cmd, "%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}
