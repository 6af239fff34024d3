#include "niah/niah_tasks.h"

#include <stdlib.h>
#include <string.h>

const struct niah_task niah_tasks[8] = {
    {"niah_single_1", "S1", HAYSTACK_NOISE, KIND_WORDS, KIND_NUMBERS, 1, 1, 1},
    {"niah_single_2", "S2", HAYSTACK_ESSAY, KIND_WORDS, KIND_NUMBERS, 1, 1, 1},
    {"niah_single_3", "S3", HAYSTACK_ESSAY, KIND_WORDS, KIND_UUIDS, 1, 1, 1},
    {"niah_multikey_1", "MK1", HAYSTACK_ESSAY, KIND_WORDS, KIND_NUMBERS, 4, 1, 1},
    {"niah_multikey_2", "MK2", HAYSTACK_NEEDLE, KIND_WORDS, KIND_NUMBERS, 1, 1, 1},
    {"niah_multikey_3", "MK3", HAYSTACK_NEEDLE, KIND_UUIDS, KIND_UUIDS, 1, 1, 1},
    {"niah_multivalue", "MV", HAYSTACK_ESSAY, KIND_WORDS, KIND_NUMBERS, 1, 4, 1},
    {"niah_multiquery", "MQ", HAYSTACK_ESSAY, KIND_WORDS, KIND_NUMBERS, 1, 1, 4},
};

const struct niah_task *niah_task_find(const char *name)
{
    for (int i = 0; i < 8; i++)
        if (strcmp(niah_tasks[i].name, name) == 0 || strcmp(niah_tasks[i].short_name, name) == 0) return &niah_tasks[i];
    return NULL;
}

const char *niah_kind_plural(enum niah_kind k)
{
    return k == KIND_WORDS ? "words" : k == KIND_NUMBERS ? "numbers" : "uuids";
}

/* Replaces every occurrence of from by to (Python str.replace). */
static char *replace_all(char *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = s; (p = strstr(p, from)); p += fl) n++;
    char *out = malloc(strlen(s) + n * (tl > fl ? tl - fl : 0) + 1), *o = out;
    const char *p = s, *q;
    while ((q = strstr(p, from))) {
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, tl);
        o += tl;
        p = q + fl;
    }
    strcpy(o, p);
    free(s);
    return out;
}

char *niah_prompt_template(const struct niah_task *t, const char *chat_wrapper)
{
    /* full = wrapper.format(task_template=TEMPLATE) + ANSWER_PREFIX */
    char *full = strdup(chat_wrapper ? chat_wrapper : "{task_template}");
    full = replace_all(full, "{task_template}", NIAH_TEMPLATE);
    size_t n = strlen(full) + strlen(NIAH_ANSWER_PREFIX) + 1;
    full = realloc(full, n);
    strcat(full, NIAH_ANSWER_PREFIX);
    char type[16];
    strcpy(type, niah_kind_plural(t->value_kind));
    if (t->num_queries * t->num_values == 1) {
        full = replace_all(full, "Some", "A");
        full = replace_all(full, "are all", "is");
        full = replace_all(full, "are", "is");
        full = replace_all(full, "answers", "answer");
        type[strlen(type) - 1] = '\0'; /* "numbers" -> "number" */
    }
    return replace_all(full, "{type_needle_v}", type);
}
