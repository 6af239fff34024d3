/* Decay-gated linear attention with a scalar decay per head and token: the
 * lightning attention of MiniMax-Text-01 and HypeNet, also known as simple GLA
 * or RetNet-style retention. Per head, with log-decay g_t ≤ 0:
 *
 *   S_t = e^{g_t} S_{t−1} + k_t v_tᵀ        S: [d_k, d_v], decay first, then add
 *   o_t = S_tᵀ q_t                          (the token sees itself with weight 1)
 *
 * (transformers' MiniMaxLightningAttention decode path; fla's
 * ops/simple_gla/naive.py.) Three forms of the same math, for one layer:
 *   naive    the recurrence above, in double precision (tests only);
 *   chunked  prefill: chunks of C tokens, intra-chunk work as small GEMMs,
 *            the state carried between chunks (see lightning.c);
 *   step     decode: one token, the state updated in place.
 *
 * Layouts: q, k [T, heads, d_k]; v, out [T, heads, d_v]; g [T, heads];
 * state [heads, d_k, d_v] in float32, read and written (zero to start). */
#ifndef HYRECALL_LIGHTNING_H
#define HYRECALL_LIGHTNING_H

#include <stdint.h>

#include "engine/ops/workspace.h"

#define LIGHTNING_DEFAULT_CHUNK 64

void lightning_naive(int T, int heads, int dk, int dv, const float *q, const float *k, const float *v, const float *g,
                     float *state, float *out);
void lightning_chunked(int T, int heads, int dk, int dv, const float *q, const float *k, const float *v, const float *g,
                       float *state, float *out, int chunk, const struct workspace *ws);
/* The workspace slice lightning_chunked needs (chunk 0: the default). */
int64_t lightning_workspace_floats(int chunk, int dk);
void lightning_step(int heads, int dk, int dv, const float *q, const float *k, const float *v, const float *g,
                    float *state, float *out);

#endif
