#include "niah/niah_score.h"

#include <cJSON.h>

#include "engine/base/error.h"
#include "niah/niah_report.h"
#include "niah/niah_tasks.h"

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

/* RULER writes its predictions as .../<max_seq_length>/pred/<task>.jsonl:
 * the task from the file name, the length from the directory above pred/
 * (its lines' "length" is the prompt's own token count, not the cell's). */
static void ruler_path_fields(const char *label, char *task, size_t task_n, int64_t *length)
{
    *length = NIAH_UNKNOWN;
    task[0] = '\0';
    const char *base = strrchr(label, '/') ? strrchr(label, '/') + 1 : label;
    const size_t n = strlen(base);
    if (n > 6 && strcmp(base + n - 6, ".jsonl") == 0) snprintf(task, task_n, "%.*s", (int)(n - 6), base);
    /* .../<digits>/pred/<task>.jsonl */
    if (base == label) return;
    const char *pred = base - 1; /* the '/' before the file name */
    if (pred - label < 5 || strncmp(pred - 5, "/pred", 5) != 0) return;
    const char *end = pred - 5, *start = end;
    while (start > label && start[-1] >= '0' && start[-1] <= '9') start--;
    if (start < end && (start == label || start[-1] == '/')) *length = strtoll(start, NULL, 10);
}

int niah_score_jsonl(const char *label, char *text, struct niah_result **out, int *count, struct hr_error *e)
{
    struct niah_result *res = NULL;
    int n = 0, cap = 0, line_no = 0, rc = 0;
    char *save = NULL, file_task[96];
    int64_t file_length;
    ruler_path_fields(label, file_task, sizeof file_task, &file_length);
    const bool file_names_task = niah_task_find(file_task) != NULL;
    for (char *line = strtok_r(text, "\n", &save); line && rc == 0; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        cJSON *o = cJSON_Parse(line);
        const cJSON *task = cJSON_GetObjectItemCaseSensitive(o, "task"),
                    *ans = cJSON_GetObjectItemCaseSensitive(o, "answers"),
                    *pred = cJSON_GetObjectItemCaseSensitive(o, "pred");
        /* hyrecall's lines: task, answers, pred (or outputs as the prediction).
         * RULER's pred/<task>.jsonl: pred, and the gold strings as outputs. */
        const bool ruler = !ans && cJSON_IsString(pred);
        if (ruler)
            ans = cJSON_GetObjectItemCaseSensitive(o, "outputs");
        else if (!pred)
            pred = cJSON_GetObjectItemCaseSensitive(o, "outputs");
        const char *task_name = cJSON_IsString(task) ? task->valuestring : file_names_task ? file_task : NULL;
        if (!task_name || !cJSON_IsArray(ans) || !(cJSON_IsString(pred) || cJSON_IsArray(pred))) {
            rc = hr_fail(e,
                         "%s: line %d: needs 'task' (or a file named TASK.jsonl, as RULER's pred/ files), the gold "
                         "strings as 'answers' (or RULER's 'outputs') and the prediction as 'pred'",
                         label, line_no);
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
        snprintf(res[n].task, sizeof res[n].task, "%.31s", task_name);
        const cJSON *variant = cJSON_GetObjectItemCaseSensitive(o, "variant");
        snprintf(res[n].variant, sizeof res[n].variant, "%s", cJSON_IsString(variant) ? variant->valuestring : "model");
        const cJSON *len = cJSON_GetObjectItemCaseSensitive(o, "length"),
                    *dep = cJSON_GetObjectItemCaseSensitive(o, "depth");
        /* Not recorded is unknown, never 0K or depth 0 (niah_report.h). */
        res[n].length = ruler ? file_length
                        : cJSON_IsNumber(len) && len->valuedouble >= 0 && len->valuedouble < 1e15
                            ? (int64_t)len->valuedouble
                            : NIAH_UNKNOWN;
        res[n].depth =
            cJSON_IsNumber(dep) && dep->valuedouble >= 0 && dep->valuedouble <= 100 ? dep->valuedouble : NIAH_UNKNOWN;
        const cJSON *ntok = cJSON_GetObjectItemCaseSensitive(o, "n_tokens");
        res[n].n_tokens =
            cJSON_IsNumber(ntok) && ntok->valuedouble >= 0 && ntok->valuedouble < 2e9 ? ntok->valueint : 0;
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
