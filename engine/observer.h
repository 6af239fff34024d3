/* Observers: a struct of callbacks the session calls at named points of the
 * forward pass, so that instruments (the routing lens, tensor dumps) read the
 * computation without the decoder knowing them. With no observer set, or a
 * callback left NULL, nothing extra is computed or copied.
 *
 * Pointers handed to a callback are valid only during the call. */
#ifndef HYRECALL_OBSERVER_H
#define HYRECALL_OBSERVER_H

#include <stdint.h>

#include "engine/mixers/attention.h"

/* What a sequence mixer is about to multiply: q, k, v after every norm,
 * activation, RoPE and scaling the block applies, for the n tokens at
 * positions pos .. pos + n − 1. */
struct mixer_inputs {
    int layer;
    int64_t pos;
    int n;
    int heads, kv_heads, dk, dv; /* k and v have kv_heads heads (softmax attention), else heads */
    const float *q;              /* [n, heads, dk] */
    const float *k;              /* [n, kv_heads, dk] */
    const float *v;              /* [n, kv_heads, dv] */
    const float *log_decay;      /* [n, heads]: log of the per-step decay (linear mixers), else NULL */
    const float *beta;           /* [n, heads]: delta-rule write strength, else NULL */
};

struct session_observer {
    void *ctx;
    /* Softmax layer `layer` is about to attend: where to write one query
     * position's attention row (attention.h), or NULL for none. */
    const struct attention_probe *(*attention_probe)(void *ctx, int layer);
    /* Any mixer's inputs, just before the mixer runs. */
    void (*mixer_inputs)(void *ctx, const struct mixer_inputs *in);
};

#endif
