#include <ctype.h>
#include <errno.h>
#include <math.h>
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

/* Copies text and cuts it at commas into at most cap items, each trimmed of
 * surrounding spaces ("S1, S2" reads as "S1,S2"). Returns the count, or -1
 * when there are more than cap. */
int cli_split_list(const char *text, char *buf, size_t size, char **items, int cap)
{
    snprintf(buf, size, "%s", text);
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        for (char *end = tok + strlen(tok); end > tok && end[-1] == ' ';) *--end = '\0';
        if (!*tok) continue;
        if (n == cap) return -1;
        items[n++] = tok;
    }
    return n;
}

int cli_parse_size(const char *cmd, const char *flag, const char *text, int64_t min, int64_t max, int64_t *out)
{
    while (*text == ' ') text++;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (*end == 'k' || *end == 'K')
        v *= 1024, end++;
    else if (*end == 'm' || *end == 'M')
        v *= 1024 * 1024, end++;
    while (*end == ' ') end++;
    if (errno || end == text || *end || v != floor(v) || v < (double)min || v > (double)max)
        return cli_usage_error(cmd, "%s expects a token count like 4096, 4k or 1m in [%lld, %lld], got '%s'", flag,
                               (long long)min, (long long)max, text);
    *out = (int64_t)v;
    return 0;
}

int cli_parse_sizes(const char *cmd, const char *flag, const char *text, int64_t min, int64_t max, int64_t *out,
                    int cap, int *n)
{
    char buf[1024], *items[64];
    const int count = cli_split_list(text, buf, sizeof buf, items, cap < 64 ? cap : 64);
    if (count < 0) return cli_usage_error(cmd, "%s takes at most %d values, got '%s'", flag, cap, text);
    if (count == 0) return cli_usage_error(cmd, "%s is empty", flag);
    for (int i = 0; i < count; i++) {
        if (cli_parse_size(cmd, flag, items[i], min, max, &out[i])) return -1;
        for (int k = 0; k < i; k++)
            if (out[k] == out[i])
                return cli_usage_error(cmd, "%s gives %lld twice ('%s')", flag, (long long)out[i], text);
    }
    *n = count;
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

/* Edit distance (insertions, deletions, substitutions), case-insensitive. */
static int edit_distance(const char *a, const char *b)
{
    const size_t n = strlen(b);
    if (n > 63) return 64;
    int row[64];
    for (size_t j = 0; j <= n; j++) row[j] = (int)j;
    for (size_t i = 1; a[i - 1]; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= n; j++) {
            const int up = row[j];
            const int same = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]);
            int best = diag + !same;
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[n];
}

const char *cli_did_you_mean(const char *word, const char *const *candidates, int n)
{
    const char *best = NULL;
    if (strlen(word) < 4) return NULL;      /* "S4": any guess would be noise */
    int best_d = 1 + (int)strlen(word) / 3; /* at most a third of the word wrong */
    if (best_d > 3) best_d = 3;
    for (int i = 0; i < n; i++) {
        const int d = edit_distance(word, candidates[i]);
        if (d < best_d || (d == best_d && !best && d <= 2)) best = candidates[i], best_d = d;
    }
    return best;
}

int cli_unknown_option(const char *cmd, const char *arg, const char *help)
{
    /* The command's flags, as its help text spells them: every "--word" and "-x". */
    char flags[96][32];
    const char *names[96];
    int n = 0;
    for (const char *p = help; *p && n < 96; p++) {
        if (*p != '-' || (p > help && (isalnum((unsigned char)p[-1]) || p[-1] == '-'))) continue;
        const char *q = p + 1 + (p[1] == '-');
        size_t len = 0;
        while (isalnum((unsigned char)q[len]) || q[len] == '-') len++;
        if (len == 0 || len > 28) continue;
        snprintf(flags[n], sizeof flags[n], "%.*s", (int)(q - p + len), p);
        bool seen = false;
        for (int k = 0; k < n; k++) seen |= strcmp(flags[k], flags[n]) == 0;
        if (!seen) names[n] = flags[n], n++;
        p = q + len - 1;
    }
    const char *guess = cli_did_you_mean(arg, names, n);
    if (guess) return cli_usage_error(cmd, "unknown option '%s' (did you mean %s?)", arg, guess);
    return cli_usage_error(cmd, "unknown option '%s'", arg);
}
