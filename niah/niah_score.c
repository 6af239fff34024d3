#include "niah/niah_score.h"

#include <cJSON.h>

#include "engine/base/error.h"
#include "niah/niah_report.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_py_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

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

int niah_score_jsonl(const char *label, char *text, struct niah_result **out, int *count, struct hr_error *e)
{
    struct niah_result *res = NULL;
    int n = 0, cap = 0, line_no = 0, rc = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && rc == 0; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        cJSON *o = cJSON_Parse(line);
        const cJSON *task = cJSON_GetObjectItemCaseSensitive(o, "task"),
                    *ans = cJSON_GetObjectItemCaseSensitive(o, "answers"),
                    *pred = cJSON_GetObjectItemCaseSensitive(o, "pred");
        if (!pred) pred = cJSON_GetObjectItemCaseSensitive(o, "outputs");
        if (!cJSON_IsString(task) || !cJSON_IsArray(ans) || !(cJSON_IsString(pred) || cJSON_IsArray(pred))) {
            rc = hr_fail(e, "%s: line %d: needs 'task', 'answers' and 'pred' (or 'outputs')", label, line_no);
            cJSON_Delete(o);
            break;
        }
        char *p;
        if (cJSON_IsString(pred)) {
            p = strdup(pred->valuestring);
        } else { /* a list of strings: joined by spaces */
            size_t len = 1;
            for (const cJSON *it = pred->child; it; it = it->next)
                len += cJSON_IsString(it) ? strlen(it->valuestring) + 1 : 0;
            p = calloc(len, 1);
            for (const cJSON *it = pred->child; it; it = it->next)
                if (cJSON_IsString(it)) strcat(strcat(p, it->valuestring), " ");
        }
        const char *gold[64];
        int ng = 0;
        for (const cJSON *it = ans->child; it && ng < 64; it = it->next)
            if (cJSON_IsString(it)) gold[ng++] = it->valuestring;
        const char *clean = niah_postprocess(p);
        if (n == cap) res = realloc(res, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *res);
        memset(&res[n], 0, sizeof res[n]);
        snprintf(res[n].task, sizeof res[n].task, "%s", task->valuestring);
        const cJSON *variant = cJSON_GetObjectItemCaseSensitive(o, "variant");
        snprintf(res[n].variant, sizeof res[n].variant, "%s", cJSON_IsString(variant) ? variant->valuestring : "model");
        const cJSON *len = cJSON_GetObjectItemCaseSensitive(o, "length"),
                    *dep = cJSON_GetObjectItemCaseSensitive(o, "depth");
        res[n].length =
            cJSON_IsNumber(len) && len->valuedouble >= 0 && len->valuedouble < 1e15 ? (int64_t)len->valuedouble : 0;
        res[n].depth = cJSON_IsNumber(dep) && dep->valuedouble >= 0 && dep->valuedouble <= 100 ? dep->valuedouble : 0;
        res[n].score = niah_string_match_all(clean, gold, ng);
        res[n].null = clean[0] == '\0';
        n++;
        free(p);
        cJSON_Delete(o);
    }
    if (rc != 0) {
        free(res);
        return -1;
    }
    *out = res;
    *count = n;
    return 0;
}
