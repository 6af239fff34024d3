/* --prompts FILE: a prompts.jsonl (written by --dump-prompts, here or by
 * another tool) read back as samples, each run exactly as given. */
#include "niah/run/given_prompts.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/files.h"
#include "niah/niah_report.h"
#include "niah/niah_tasks.h"

void given_prompts_free(struct given_prompts *g)
{
    niah_samples_free(g->samples, g->n);
    free(g->task), free(g->length), free(g->tokens), free(g->seed);
    memset(g, 0, sizeof *g);
}

/* RULER keeps its data as .../<max_seq_length>/data/<task>/validation.jsonl:
 * the task from the directory, the length from the one above data/. */
static void ruler_data_path(const char *path, char *task, size_t task_n, int64_t *length)
{
    task[0] = '\0';
    *length = NIAH_UNKNOWN;
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    char *slash = strrchr(buf, '/');
    if (!slash) return;
    *slash = '\0'; /* buf: .../<len>/data/<task> */
    char *t = strrchr(buf, '/');
    snprintf(task, task_n, "%.*s", (int)task_n - 1, t ? t + 1 : buf);
    if (!t || t - buf < 5 || strncmp(t - 5, "/data", 5) != 0) return;
    t[-5] = '\0'; /* buf: .../<len> */
    const char *num = strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
    if (*num && strspn(num, "0123456789") == strlen(num)) *length = strtoll(num, NULL, 10);
}

int given_prompts_load(const char *path, struct given_prompts *g, struct hr_error *e)
{
    memset(g, 0, sizeof *g);
    char dir_task[256];
    int64_t dir_length;
    ruler_data_path(path, dir_task, sizeof dir_task, &dir_length);
    const bool dir_names_task = niah_task_find(dir_task) != NULL;
    char *text = read_text_file(path, NULL, e);
    if (!text) return -1;
    int cap = 0, line_no = 0, rc = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && rc == 0; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        cJSON *o = cJSON_Parse(line);
        const cJSON *task = cJSON_GetObjectItemCaseSensitive(o, "task"),
                    *input = cJSON_GetObjectItemCaseSensitive(o, "input"),
                    *ans = cJSON_GetObjectItemCaseSensitive(o, "answers"),
                    *len = cJSON_GetObjectItemCaseSensitive(o, "length"),
                    *prefix = cJSON_GetObjectItemCaseSensitive(o, "answer_prefix");
        /* RULER's validation.jsonl: outputs (the gold strings), input without
         * the answer prefix, length = prompt tokens + 128; task and cell
         * length from its directories. */
        const bool ruler = !task && !ans;
        if (ruler) ans = cJSON_GetObjectItemCaseSensitive(o, "outputs");
        const char *task_name = cJSON_IsString(task) ? task->valuestring : ruler && dir_names_task ? dir_task : NULL;
        if (!task_name || !cJSON_IsString(input) || !cJSON_IsArray(ans) || !cJSON_IsNumber(len) ||
            (ruler && prefix && !cJSON_IsString(prefix))) {
            rc = hr_fail(e,
                         "%s: line %d: needs 'task', 'length', 'input' and 'answers' (hyrecall's prompts.jsonl), or "
                         "'input', 'outputs', 'length' (RULER's validation.jsonl, in a directory named for its task)",
                         path, line_no);
            cJSON_Delete(o);
            break;
        }
        if (g->n == cap) {
            cap = cap ? 2 * cap : 64;
            g->samples = realloc(g->samples, (size_t)cap * sizeof *g->samples);
            g->task = realloc(g->task, (size_t)cap * sizeof *g->task);
            g->length = realloc(g->length, (size_t)cap * sizeof *g->length);
            g->tokens = realloc(g->tokens, (size_t)cap * sizeof *g->tokens);
            g->seed = realloc(g->seed, (size_t)cap * sizeof *g->seed);
        }
        struct niah_sample *s = &g->samples[g->n];
        memset(s, 0, sizeof *s);
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(o, "index"),
                    *dep = cJSON_GetObjectItemCaseSensitive(o, "depth"),
                    *ntok = cJSON_GetObjectItemCaseSensitive(o, "n_tokens"),
                    *seed = cJSON_GetObjectItemCaseSensitive(o, "seed");
        s->index = cJSON_IsNumber(idx) ? idx->valueint : g->n;
        s->depth = cJSON_IsNumber(dep) ? dep->valuedouble : NIAH_UNKNOWN;
        s->n_tokens = cJSON_IsNumber(ntok) ? ntok->valueint : (int)strlen(input->valuestring);
        if (ruler && cJSON_IsString(prefix)) { /* the text the model sees: input + answer_prefix (call_api.py) */
            const size_t a = strlen(input->valuestring), b = strlen(prefix->valuestring);
            s->prompt = malloc(a + b + 1);
            memcpy(s->prompt, input->valuestring, a), memcpy(s->prompt + a, prefix->valuestring, b + 1);
        } else {
            s->prompt = strdup(input->valuestring);
        }
        s->num_answers = cJSON_GetArraySize(ans);
        s->answers = calloc((size_t)(s->num_answers ? s->num_answers : 1), sizeof *s->answers);
        int k = 0;
        for (const cJSON *it = ans->child; it; it = it->next)
            s->answers[k++] = strdup(cJSON_IsString(it) ? it->valuestring : "");
        snprintf(g->task[g->n], sizeof g->task[g->n], "%.31s", task_name);
        g->tokens[g->n] = (int64_t)len->valuedouble;
        g->length[g->n] = ruler ? dir_length : g->tokens[g->n];
        g->seed[g->n] = cJSON_IsNumber(seed) && seed->valuedouble >= 0 ? (uint64_t)seed->valuedouble : 0;
        g->n++;
        cJSON_Delete(o);
    }
    free(text);
    if (rc == 0 && g->n == 0) rc = hr_fail(e, "%s: no prompts", path);
    if (rc) given_prompts_free(g);
    return rc;
}
