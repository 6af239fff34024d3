#include "niah_score.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_py_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f); }

char *niah_postprocess(char *pred)
{
    /* Python's str.strip() also strips \x1c-\x1f; after the control
     * characters become '\n' the second strip removes them anyway. */
    size_t n = strlen(pred);
    while (n && is_py_space((unsigned char)pred[n - 1])) pred[--n] = '\0';
    char *s = pred;
    while (*s && is_py_space((unsigned char)*s)) s++;
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20) *p = '\n';
    n = strlen(s);
    while (n && is_py_space((unsigned char)s[n - 1])) s[--n] = '\0';
    while (*s && is_py_space((unsigned char)*s)) s++;
    return s;
}

/* ASCII lower-casing. Python's str.lower() also folds non-ASCII letters; the
 * gold strings of NIAH (numbers, UUIDs, word keys) are ASCII, and a
 * non-ASCII prediction character can only match itself either way. */
static char *lower_copy(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n + 1);
    for (size_t i = 0; i <= n; i++) out[i] = (char)tolower((unsigned char)s[i]);
    return out;
}

static int count_contained(const char *pred, const char *const *gold, int n_gold)
{
    char *p = lower_copy(pred);
    int hits = 0;
    for (int i = 0; i < n_gold; i++) {
        char *g = lower_copy(gold[i]);
        hits += strstr(p, g) != NULL;
        free(g);
    }
    free(p);
    return hits;
}

double niah_string_match_all(const char *pred, const char *const *gold, int n_gold)
{
    return n_gold ? (double)count_contained(pred, gold, n_gold) / n_gold : 0.0;
}

double niah_string_match_part(const char *pred, const char *const *gold, int n_gold)
{
    return count_contained(pred, gold, n_gold) > 0 ? 1.0 : 0.0;
}

double niah_round2(double x)
{
    /* Python rounds the binary double to nearest, ties to even, at 2 decimals:
     * decide on the exact decimal expansion of x, as CPython does. */
    char buf[64];
    snprintf(buf, sizeof buf, "%.2f", x); /* glibc rounds the exact binary value, ties to even */
    return strtod(buf, NULL);
}
