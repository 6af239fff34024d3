/* --prompts FILE: the samples of a prompts.jsonl, as given. */
#ifndef HYRECALL_NIAH_GIVEN_PROMPTS_H
#define HYRECALL_NIAH_GIVEN_PROMPTS_H

#include <stdint.h>

#include "engine/base/error.h"
#include "niah/niah_generate.h"

/* A prompts.jsonl (from --dump-prompts or another tool) as samples. */
struct given_prompts {
    struct niah_sample *samples;
    char (*task)[32];
    int64_t *length; /* the cell's length (NIAH_UNKNOWN when the file does not say) */
    int64_t *tokens; /* the line's "length": what the memory plan reserves for */
    uint64_t *seed;
    int n;
};

/* Lines with task, length, input and answers (index, depth, n_tokens and seed
 * when present); e names the file and line of the first bad one. */
int given_prompts_load(const char *path, struct given_prompts *g, struct hr_error *e);
void given_prompts_free(struct given_prompts *g);

#endif
