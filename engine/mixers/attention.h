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

#include <stdbool.h>
#include <stdint.h>

#include "engine/ops/workspace.h"

/* Under bf16 compute (ops.h) the products are attention's share of what a
 * GPU's bf16 inference takes (FlashAttention-2, Dao 2023): q, k and v rounded
 * to bfloat16, scores q·k as float32 sums of exact bf16 products, softmax in
 * float32 (its sum l from the float32 probabilities), the probabilities
 * rounded to bfloat16 for the float32 sums Σ p v. The cache then holds the
 * bf16 rows: half the memory, and what those products read. */
struct kv_cache {
    float *k, *v;      /* [slots, kv_heads, head_dim], float32 compute */
    uint16_t *kh, *vh; /* the same in bfloat16, bf16 compute (k, v NULL) */
    int64_t slots;     /* allocated slots */
    int window;        /* 0 = full attention */
    int kv_heads, head_dim;
    bool bf16;
    float *decode_scratch; /* per-block partial results of decode, grown as the context grows */
    int64_t decode_scratch_floats;
    uint16_t *batch_kh, *batch_vh; /* bf16: the batch's keys and values, rounded once */
    int64_t batch_rows;
};

int kv_cache_init(struct kv_cache *c, int window, int kv_heads, int head_dim, bool bf16);
void kv_cache_free(struct kv_cache *c);
/* Bytes the cache holds for a context of n positions. */
int64_t kv_cache_bytes_for(int window, int kv_heads, int head_dim, int64_t n, bool bf16);

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
/* Stores n keys and values at positions pos0 .. pos0+n-1 without attending
 * (what attention_forward does after attending): for benchmarks that need a
 * long cache without its prefill. -1 when the cache cannot grow. */
int kv_cache_append(struct kv_cache *c, const float *k, const float *v, int n, int64_t pos0);
/* The workspace slice attention_forward needs for n queries at pos0. */
int64_t attention_workspace_floats(int n, int64_t pos0, int window, int heads, int kv_heads, int head_dim, bool bf16);

/* The plain O(T²) form for tests: causal (optionally windowed) attention over
 * a whole sequence held in memory, no cache. Same argument layout. */
void attention_naive(const float *q, const float *k, const float *v, int n, int heads, int kv_heads, int head_dim,
                     int window, float scale, float *out);

#endif
