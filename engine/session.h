/* A session is one sequence being processed: every per-sequence state (KV
 * caches and ring buffers, recurrent matrix states, convolution tails) lives
 * here; the model stays read-only. Feed it a prompt (prefill, batched through
 * GEMMs, linear layers in chunked form) and then one token at a time (decode,
 * linear layers in step form); the logits equal those of one parallel pass. */
#ifndef HYRECALL_SESSION_H
#define HYRECALL_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/base/error.h"
#include "engine/layers/ffn.h"
#include "engine/mixers/attention.h"
#include "engine/model.h"
#include "engine/observer.h"
#include "engine/ops/rope.h"
#include "engine/ops/workspace.h"

/* Prefill runs in micro-batches of this many tokens so that activation
 * memory stays bounded at any prompt length. */
#define SESSION_DEFAULT_BATCH 512

/* Per-layer sequence state. Only the member of the layer's mixer is used. */
struct layer_state {
    struct kv_cache kv; /* softmax attention */
    float *S;           /* linear attention: [heads, d_k, d_v] */
    float *conv_tail;   /* gated delta / JetBlock: [kernel − 1, conv channels] */
    int64_t S_floats, conv_tail_floats;
};

/* Activations of one micro-batch of B tokens; widths are the maxima over
 * the model's layers. */
struct session_scratch {
    float *x;                 /* residual stream [B, hidden] */
    float *xn;                /* normed input [B, hidden] */
    float *proj;              /* block output [B, hidden] */
    float *wide;              /* raw projections [B, max projection width] */
    float *q, *k, *v;         /* per-head inputs of the mixer [B, heads, d] */
    float *gate;              /* output gates [B, heads · d_v] */
    float *mix;               /* mixer output [B, heads · d_v] */
    float *conv_in, *conv;    /* convolution input and output [B, conv channels] */
    float *kern;              /* dynamic convolution kernels [B, conv channels · kernel] */
    float *g, *beta;          /* [B, heads] */
    float *ffn_gate, *ffn_up; /* [B, intermediate] */
    struct moe_scratch moe;
};

struct session {
    const struct model *m;
    int64_t pos; /* tokens consumed so far */
    int max_batch;
    struct layer_state *layers; /* [num_layers] */
    struct rope_table rope;
    struct session_scratch a;
    struct workspace ws;                     /* the kernels' per-thread scratch (engine/ops/workspace.h) */
    int64_t widest_staged;                   /* columns of the widest matrix linear() stages in ws (ops.h) */
    const struct session_observer *observer; /* engine/observer.h; NULL: none */
};

int session_init(struct session *s, const struct model *m, int max_batch, struct hr_error *e);
void session_free(struct session *s);
/* Forgets the sequence: states zeroed, caches emptied (their memory kept for
 * the next sequence), position 0. */
void session_reset(struct session *s);
/* Instruments the session (NULL removes the observer); o must outlive its use. */
void session_set_observer(struct session *s, const struct session_observer *o);

/* Snapshots of the sequence state, for prefix reuse (engine/prefix_cache.h).
 * The state at a position is the recurrent matrix states, the convolution
 * tails and the rings of sliding-window caches, plus the rows of the full
 * KV caches below it; those rows need no copy, since nothing writes them
 * again until the sequence is fed from an earlier position. */
int64_t session_snapshot_floats(const struct session *s);
void session_snapshot_save(const struct session *s, float *dst);
/* Back to a state saved at position pos, whose full caches still hold the
 * rows below pos they held then. */
void session_snapshot_load(struct session *s, const float *src, int64_t pos);

/* Feeds n tokens at positions pos .. pos+n-1. logits may be NULL; otherwise
 * it receives [n, vocab] when all_logits, else [vocab] for the last token. */
int session_forward(struct session *s, const int32_t *ids, int n, float *logits, bool all_logits, struct hr_error *e);

/* Bytes of per-sequence state a session holds at a context length (caches
 * grow with it, recurrent states do not), and of its activation scratch. */
int64_t session_state_bytes(const struct model *m, int64_t context);
int64_t session_scratch_bytes(const struct model *m, int max_batch);
/* Bytes of kernel workspace at `threads` threads for batches of max_batch
 * tokens up to `context` (memory_plan counts them). staged_cols: columns of
 * the widest matrix linear() stages, when m's matrices cannot tell (a plan's
 * are float32 zeros, while the checkpoint's may be BF16); else 0. */
int64_t session_workspace_bytes(const struct model *m, int threads, int max_batch, int64_t context,
                                int64_t staged_cols);

/* For the block kinds (engine/layers/): the observer's named points. The
 * mixer inputs of layer li as they lie in the scratch (q, k, v); a block adds
 * its decays and write strengths. */
static inline struct mixer_inputs session_mixer_inputs(const struct session *s, int li, int n, int heads, int kv_heads,
                                                       int dk, int dv)
{
    return (struct mixer_inputs){li, s->pos, n, heads, kv_heads, dk, dv, s->a.q, s->a.k, s->a.v, NULL, NULL};
}
static inline void session_observe_mixer_inputs(const struct session *s, const struct mixer_inputs *in)
{
    if (s->observer && s->observer->mixer_inputs) s->observer->mixer_inputs(s->observer->ctx, in);
}
static inline void session_observe_module(const struct session *s, enum observed_module what, int layer, const float *x,
                                          int rows, int width, int64_t pos)
{
    if (s->observer && s->observer->module_output)
        s->observer->module_output(s->observer->ctx, what, layer, x, rows, width, pos);
}
static inline const struct attention_probe *session_attention_probe(const struct session *s, int layer)
{
    return s->observer && s->observer->attention_probe ? s->observer->attention_probe(s->observer->ctx, layer) : NULL;
}

#endif
