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

/* RULER's scripts/data/template.py, by name. */
static const struct {
    const char *name, *wrapper;
} chat_templates[] = {
    {"base", "{task_template}"},
    {"chatml", "<|im_start|>user\n{task_template}<|im_end|>\n<|im_start|>assistant\n"},
    {"meta-chat", "[INST] {task_template} [/INST]"},
    {"vicuna-chat", "A chat between a curious user and an artificial intelligence assistant. The assistant gives "
                    "helpful, detailed, and polite answers to the user's questions. USER: {task_template} ASSISTANT:"},
    {"lwm-chat", "You are a helpful assistant. USER: {task_template} ASSISTANT: "},
    {"Phi3", "<|user|>\n{task_template}<|end|>\n<|assistant|>\n"},
    {"meta-llama3", "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{task_template}<|eot_id|><|start_"
                    "header_id|>assistant<|end_header_id|>\n\n"},
};

const char *niah_chat_template(const char *name)
{
    for (size_t i = 0; i < sizeof chat_templates / sizeof *chat_templates; i++)
        if (strcmp(name, chat_templates[i].name) == 0) return chat_templates[i].wrapper;
    return NULL;
}

char *niah_chat_wrap(const char *wrapper, const char *text)
{
    static const char slot[] = "{task_template}";
    const char *at = strstr(wrapper, slot);
    if (!at) return strdup(text);
    const size_t head = (size_t)(at - wrapper), tail = strlen(at + sizeof slot - 1), n = strlen(text);
    char *out = malloc(head + n + tail + 1);
    if (!out) return NULL;
    memcpy(out, wrapper, head);
    memcpy(out + head, text, n);
    memcpy(out + head + n, at + sizeof slot - 1, tail + 1);
    return out;
}
