/* The eight RULER NIAH tasks (scripts/synthetic.yaml) and their strings
 * (scripts/data/synthetic/constants.py). */
#ifndef HYRECALL_NIAH_TASKS_H
#define HYRECALL_NIAH_TASKS_H

#include <stdbool.h>

enum niah_haystack { HAYSTACK_NOISE, HAYSTACK_ESSAY, HAYSTACK_NEEDLE };
enum niah_kind { KIND_WORDS, KIND_NUMBERS, KIND_UUIDS };

struct niah_task {
    const char *name;       /* niah_single_1 ... */
    const char *short_name; /* S1 ... as papers call them */
    enum niah_haystack haystack;
    enum niah_kind key_kind, value_kind;
    int num_keys, num_values, num_queries;
};

extern const struct niah_task niah_tasks[8];
const struct niah_task *niah_task_find(const char *name);
const char *niah_kind_plural(enum niah_kind k); /* "words", "numbers", "uuids" */

/* Needle sentence: "One of the special magic {plural} for {key} is: {value}." */
#define NIAH_NEEDLE "One of the special magic %s for %s is: %s."
/* Noise haystack unit (the passkey test of Landmark Attention). */
#define NIAH_NOISE "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."
/* The task template and answer prefix, before RULER's single-value rewrites. */
#define NIAH_TEMPLATE                                                                                                  \
    "Some special magic {type_needle_v} are hidden within the following text. Make sure to memorize it. I will "       \
    "quiz you about the {type_needle_v} afterwards.\n{context}\nWhat are all the special magic {type_needle_v} for "   \
    "{query} mentioned in the provided text?"
#define NIAH_ANSWER_PREFIX " The special magic {type_needle_v} for {query} mentioned in the provided text are"
#define NIAH_TOKENS_TO_GENERATE 128

/* A chat wrapper of RULER's templates (base, chatml, meta-chat, vicuna-chat,
 * lwm-chat, Phi3, meta-llama3) by name, holding {task_template}; NULL when
 * the name is not one. */
const char *niah_chat_template(const char *name);
/* wrapper with its {task_template} replaced by text (malloc'd). */
char *niah_chat_wrap(const char *wrapper, const char *text);

/* The prompt template for a task: chat wrapper (with {task_template}) around
 * the task template, then the answer prefix; for single-value tasks RULER's
 * substring rewrites (Some→A, are all→is, are→is, answers→answer) over the
 * whole string and the singular type name. Returns a malloc'd string with
 * {type_needle_v} already substituted and {context}, {query} left. */
char *niah_prompt_template(const struct niah_task *t, const char *chat_wrapper);

#endif
