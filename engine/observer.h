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

/* Where a module's output is observed (the tensor-dump observer names them
 * by PyTorch module path: tensor_dump.h). */
enum observed_module {
    OBSERVE_EMBEDDINGS,   /* model.embed_tokens: x after the lookup; layer −1 */
    OBSERVE_MIXER_GATE,   /* the output gate before its activation (z, g_proj, o_gate, q_proj's gate half) */
    OBSERVE_MIXER_OUTPUT, /* model.layers.N.self_attn | linear_attn: after the mixer's output projection */
    OBSERVE_MLP_OUTPUT,   /* model.layers.N.mlp: the dense or MoE block's output */
    OBSERVE_LAYER_OUTPUT, /* model.layers.N: the residual stream after the layer */
    OBSERVE_FINAL_NORM,   /* model.norm: for the rows whose logits are computed; layer −1 */
};

struct session_observer {
    void *ctx;
    /* Softmax layer `layer` is about to attend: where to write one query
     * position's attention row (attention.h), or NULL for none. */
    const struct attention_probe *(*attention_probe)(void *ctx, int layer);
    /* Any mixer's inputs, just before the mixer runs. */
    void (*mixer_inputs)(void *ctx, const struct mixer_inputs *in);
    /* A module's output x [rows, width] for the tokens at pos .. pos + rows − 1. */
    void (*module_output)(void *ctx, enum observed_module what, int layer, const float *x, int rows, int width,
                          int64_t pos);
};

#endif
