/* Softmax attention (Vaswani et al. 2017) with grouped-query heads (Ainslie
 * et al. 2023), full or sliding-window, over a per-layer KV cache.
 *
 *   o_t = Σ_j softmax_j(q_t·k_j · scale) v_j,  j ∈ [lo(t), t]
 *   lo(t) = 0 for full attention, t − W + 1 for a window of W (the query sees
 *   itself and the W − 1 positions before it, as transformers' sliding mask
 *   `kv_idx > q_idx − sliding_window`).
 *
 * Query head h reads KV head h / (heads / kv_heads). A full-attention cache
 * holds every position; a sliding cache is a ring of W slots (position j in
 * slot j mod W), so its memory is constant in context length. */
#ifndef HYRECALL_ATTENTION_H
#define HYRECALL_ATTENTION_H

#include <stdint.h>

#include "engine/ops/workspace.h"

struct kv_cache {
    float *k, *v;  /* [slots, kv_heads, head_dim] */
    int64_t slots; /* allocated slots */
    int window;    /* 0 = full attention */
    int kv_heads, head_dim;
    float *decode_scratch; /* per-block partial results of decode, grown as the context grows */
    int64_t decode_scratch_floats;
};

int kv_cache_init(struct kv_cache *c, int window, int kv_heads, int head_dim);
void kv_cache_free(struct kv_cache *c);
/* Bytes the cache holds for a context of n positions. */
int64_t kv_cache_bytes_for(int window, int kv_heads, int head_dim, int64_t n);

/* Attends the n queries at positions pos0 .. pos0+n-1 to everything they may
 * see (earlier positions from the cache, the batch itself from k, v), then
 * stores the batch's keys and values in the cache.
 *   q [n, heads, head_dim], k, v [n, kv_heads, head_dim], out [n, heads, head_dim].
 * Returns -1 only when the cache cannot grow (out of memory). */
/* The routing lens's view (lens.h): when the query at `pos` is in the batch,
 * its attention probabilities per head go to probs [heads, pos + 1]. */
struct attention_probe {
    int64_t pos;
    float *probs;
};

int attention_forward(struct kv_cache *c, const float *q, const float *k, const float *v, int n, int64_t pos0,
                      int heads, float scale, float *out, const struct attention_probe *probe,
                      const struct workspace *ws);
/* The workspace slice attention_forward needs for n queries at pos0. */
int64_t attention_workspace_floats(int n, int64_t pos0, int window, int heads, int kv_heads, int head_dim);

/* The plain O(T²) form for tests: causal (optionally windowed) attention over
 * a whole sequence held in memory, no cache. Same argument layout. */
void attention_naive(const float *q, const float *k, const float *v, int n, int heads, int kv_heads, int head_dim,
                     int window, float scale, float *out);

#endif
