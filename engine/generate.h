/* Greedy generation on a session: prefill the prompt, then decode one token at
 * a time, each the argmax of the previous logits (ties go to the lowest id,
 * as torch.argmax). */
#ifndef HYRECALL_GENERATE_H
#define HYRECALL_GENERATE_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/prefix_cache.h"
#include "engine/session.h"

struct generate_request {
    const int32_t *prompt;
    int prompt_len;
    int max_new;         /* tokens to generate */
    const int *stop_ids; /* generation ends after emitting one of these */
    int num_stop;
    float *prompt_logits; /* NULL or [prompt_len, vocab]: every prompt row */
    float *step_logits;   /* NULL or [max_new, vocab]: row i after feeding generated[i] */
    /* NULL, or called with each token as soon as it is chosen (streaming
     * output, timings); `stop` tells whether it is one of stop_ids. */
    void (*on_token)(void *ctx, int32_t id, bool stop);
    void *on_token_ctx;
    /* NULL, or called once the prompt is in the session, before any decode
     * step (the state after the prompt, for reference dumps). */
    void (*on_prefilled)(void *ctx, const struct session *s);
    void *on_prefilled_ctx;
    /* NULL, or the prompt goes through this prefix cache of the session
     * (engine/prefix_cache.h): same logits, the shared start not recomputed.
     * The session need not be reset then; prompt_logits must be NULL. */
    struct prefix_cache *prefix;
};

/* Writes up to max_new ids into out and their count into *n_out. With
 * step_logits every generated token is fed back (so row i exists for each
 * emitted token i); otherwise the last token is not fed. */
int generate_greedy(struct session *s, const struct generate_request *r, int32_t *out, int *n_out, struct hr_error *e);

/* Index of the largest of n values (first on ties); -1 if any is NaN. */
int argmax_f32(const float *x, int n);

#endif
