/* RULER's NIAH sample generator (scripts/data/synthetic/niah.py at c3f5e3b),
 * call for call: the same random draws in the same order (pyrandom.h), the
 * same haystack construction and needle placement, the same binary search of
 * the haystack size against the token budget
 *     tokens(prompt, answer prefix included) + tokens_to_generate ≤ length,
 * and the same per-sample retry. Differences from RULER are listed in
 * niah/README.md (sentence splitter; an optional fixed depth grid). */
#ifndef HYRECALL_NIAH_GENERATE_H
#define HYRECALL_NIAH_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/base/error.h"
#include "niah/niah_haystack.h"
#include "niah/niah_tasks.h"
#include "niah/niah_words.h"

/* Counts the tokens of text (the model's tokenizer, no special tokens added);
 * returns -1 after filling e on failure. */
typedef int (*niah_token_counter)(void *ctx, const char *text, size_t len, struct hr_error *e);

/* The counter for a tokenizer.h tokenizer (ctx is the struct tokenizer *):
 * tokens of tok_encode, special-token strings recognised, none added. */
int niah_tokenizer_counter(void *ctx, const char *text, size_t len, struct hr_error *e);

struct niah_sources {
    const struct word_keys *words; /* for word keys */
    const struct essay *essay;     /* for essay haystacks */
    niah_token_counter count;
    void *count_ctx;
};

struct niah_request {
    const struct niah_task *task;
    int64_t length;           /* max_seq_length */
    int tokens_to_generate;   /* 128 in RULER */
    const char *chat_wrapper; /* "{task_template}" form; NULL = base */
    uint64_t seed;            /* random.seed(seed) and the needle shuffle's Random(seed) */
    int num_samples;          /* per depth when depths are given */
    const int *depths;        /* fixed depth grid (percent), or NULL for RULER's random depths */
    int num_depths;
};

struct niah_sample {
    int index;
    char *prompt;     /* the whole prompt, answer prefix included */
    size_t prefix_at; /* prompt + prefix_at is the answer prefix */
    char **answers;
    int num_answers;
    int n_tokens;         /* tokens of prompt */
    int64_t num_haystack; /* haystack units (words, noise blocks or needle lines) */
    double depth;         /* percent: where the needle of answers[0] sits */
    size_t needle_at;     /* byte offset of that needle sentence in prompt */
};

int niah_generate(const struct niah_request *rq, const struct niah_sources *src, struct niah_sample **samples, int *num,
                  struct hr_error *e);
void niah_samples_free(struct niah_sample *samples, int num);

/* RULER's generate_input_output(num_haystack) called once right after
 * random.seed(rq->seed), without sizing: for tests against RULER's own
 * draws and for tools. */
int niah_generate_once(const struct niah_request *rq, const struct niah_sources *src, int64_t num_haystack,
                       struct niah_sample *s, struct hr_error *e);

/* RULER's 40 essay depths: round(linspace(0, 100, 40)). */
extern const int NIAH_DEPTHS[40];

#endif
