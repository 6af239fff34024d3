/* Block kinds: one file per kind (softmax attention, lightning attention,
 * Gated DeltaNet, JetBlock), each the projections, norms and gates that turn a
 * layer's normed input into its token mixer's output around one sequence
 * mixer of engine/mixers/. The session, the bench and inspect know a kind only
 * through this table, so adding a block kind is one new file and one row.
 *
 * Every forward reads the session's s->a.xn [n, hidden] (the layer's normed
 * input) and writes s->a.proj [n, hidden] (the mixer's output after its own
 * output projection), using the session's scratch and the layer's state. */
#ifndef HYRECALL_LAYERS_BLOCK_H
#define HYRECALL_LAYERS_BLOCK_H

#include <stdint.h>

#include "engine/model.h"

struct session;

/* Scratch widths (floats per token) a layer needs; the session allocates the
 * maxima over its layers. */
struct block_widths {
    int64_t wide;    /* raw projections before regrouping */
    int64_t head_in; /* each of q, k, v laid out per head */
    int64_t gate;    /* output gate */
    int64_t mix;     /* mixer output */
    int64_t conv;    /* convolution input and output */
    int64_t kern;    /* per-token dynamic convolution kernels */
    int64_t heads;   /* per-head scalars: decay g and β */
};

/* The recurrent state of a linear-attention block: per head a d_k × d_v
 * matrix S, plus the tail of a causal convolution (kernel − 1 rows).
 * heads == 0 for softmax attention, whose state is its KV cache. */
struct recurrent_shape {
    int heads, dk, dv;
    int64_t conv_tail_floats;
};

#define BLOCK_MAX_MATRICES 10

struct block_kind {
    const char *name;      /* "gated delta rule", ... */
    const char *plan_name; /* inspect's layer plan: "gated_delta", ... */
    void (*widths)(const struct model *m, const struct layer *L, struct block_widths *w); /* raises w */
    struct recurrent_shape (*recurrent)(const struct model *m, const struct layer *L);
    /* The weight matrices one token passes through (for FLOP and byte counts);
     * returns how many were written to out. */
    int (*matrices)(const struct layer *L, const struct weight *out[BLOCK_MAX_MATRICES]);
    /* Floats of per-thread kernel workspace its mixer needs for n tokens at
     * position pos (engine/ops/workspace.h; linear()'s own need aside). */
    int64_t (*workspace_floats)(const struct model *m, const struct layer *L, int n, int64_t pos);
    /* s->a.xn -> s->a.proj for the n tokens at s->pos .. s->pos + n − 1.
     * Returns -1 only when a KV cache cannot grow (out of memory). */
    int (*forward)(struct session *s, int li, int n);
};

const struct block_kind *block_kind(enum mixer_kind k);

extern const struct block_kind softmax_attention_block, lightning_block, gated_deltanet_block, jet_block;

static inline int64_t block_max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

#endif
