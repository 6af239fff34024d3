/* A session is one sequence being processed: every per-sequence state (KV
 * caches, ring buffers) lives here, the model stays read-only. Feed it a
 * prompt (prefill, batched through GEMMs) and then one token at a time
 * (decode); the logits equal those of one parallel pass over the whole text. */
#ifndef HYRECALL_SESSION_H
#define HYRECALL_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "attention.h"
#include "error.h"
#include "model.h"
#include "rope.h"

/* Prefill runs in micro-batches of this many tokens so that activation
 * memory stays bounded at any prompt length. */
#define SESSION_DEFAULT_BATCH 512

struct session {
    const struct model *m;
    int64_t pos; /* tokens consumed so far */
    int max_batch;
    struct kv_cache *kv; /* [num_layers] */
    struct rope_table rope;
    /* Activations of one micro-batch. */
    float *x;    /* residual stream [B, hidden] */
    float *xn;   /* normed input [B, hidden] */
    float *q;    /* [B, heads * head_dim] */
    float *k, *v; /* [B, kv_heads * head_dim] */
    float *mix;  /* mixer output before its output projection [B, heads * head_dim] */
    float *proj; /* [B, hidden] */
    float *gate, *up; /* MLP [B, intermediate] */
};

int session_init(struct session *s, const struct model *m, int max_batch, struct hr_error *e);
void session_free(struct session *s);
/* Forgets the sequence (caches emptied, position 0). */
void session_reset(struct session *s);

/* Feeds n tokens at positions pos .. pos+n-1. logits may be NULL; otherwise
 * it receives [n, vocab] when all_logits, else [vocab] for the last token. */
int session_forward(struct session *s, const int32_t *ids, int n, float *logits, bool all_logits,
                    struct hr_error *e);

/* Bytes of per-sequence state (caches) a session needs at a context length,
 * plus its activation scratch. */
int64_t session_state_bytes(const struct model *m, int64_t context);
int64_t session_scratch_bytes(const struct model *m, int max_batch);

#endif
