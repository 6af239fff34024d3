/* --prompts FILE: a prompts.jsonl (written by --dump-prompts, here or by
 * another tool) read back as samples, each run exactly as given. */
#include "niah/run/given_prompts.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/files.h"

void given_prompts_free(struct given_prompts *g)
{
    niah_samples_free(g->samples, g->n);
    free(g->task), free(g->length), free(g->seed);
    memset(g, 0, sizeof *g);
}

int given_prompts_load(const char *path, struct given_prompts *g, struct hr_error *e)
{
    memset(g, 0, sizeof *g);
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
                    *len = cJSON_GetObjectItemCaseSensitive(o, "length");
        if (!cJSON_IsString(task) || !cJSON_IsString(input) || !cJSON_IsArray(ans) || !cJSON_IsNumber(len)) {
            rc = hr_fail(e, "%s: line %d: needs 'task', 'length', 'input' and 'answers'", path, line_no);
            cJSON_Delete(o);
            break;
        }
        if (g->n == cap) {
            cap = cap ? 2 * cap : 64;
            g->samples = realloc(g->samples, (size_t)cap * sizeof *g->samples);
            g->task = realloc(g->task, (size_t)cap * sizeof *g->task);
            g->length = realloc(g->length, (size_t)cap * sizeof *g->length);
            g->seed = realloc(g->seed, (size_t)cap * sizeof *g->seed);
        }
        struct niah_sample *s = &g->samples[g->n];
        memset(s, 0, sizeof *s);
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(o, "index"),
                    *dep = cJSON_GetObjectItemCaseSensitive(o, "depth"),
                    *ntok = cJSON_GetObjectItemCaseSensitive(o, "n_tokens"),
                    *seed = cJSON_GetObjectItemCaseSensitive(o, "seed");
        s->index = cJSON_IsNumber(idx) ? idx->valueint : g->n;
        s->depth = cJSON_IsNumber(dep) ? dep->valuedouble : 0;
        s->n_tokens = cJSON_IsNumber(ntok) ? ntok->valueint : (int)strlen(input->valuestring);
        s->prompt = strdup(input->valuestring);
        s->num_answers = cJSON_GetArraySize(ans);
        s->answers = calloc((size_t)(s->num_answers ? s->num_answers : 1), sizeof *s->answers);
        int k = 0;
        for (const cJSON *it = ans->child; it; it = it->next)
            s->answers[k++] = strdup(cJSON_IsString(it) ? it->valuestring : "");
        snprintf(g->task[g->n], sizeof g->task[g->n], "%s", task->valuestring);
        g->length[g->n] = (int64_t)len->valuedouble;
        g->seed[g->n] = cJSON_IsNumber(seed) && seed->valuedouble >= 0 ? (uint64_t)seed->valuedouble : 0;
        g->n++;
        cJSON_Delete(o);
    }
    free(text);
    if (rc == 0 && g->n == 0) rc = hr_fail(e, "%s: no prompts", path);
    if (rc) given_prompts_free(g);
    return rc;
}
