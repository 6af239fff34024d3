/* The gated delta rule (Yang, Kautz & Hatamizadeh 2024, "Gated Delta
 * Networks"), the linear-attention layer of Qwen3-Next and Jet-Nemotron.
 * Per head, with log-decay g_t ≤ 0 and write strength β_t ∈ (0, 1):
 *
 *   S ← e^{g_t} S                          decay
 *   u = β_t (v_t − Sᵀ k_t)                 the delta: what S mispredicts for k_t
 *   S ← S + k_t uᵀ                         write
 *   o_t = Sᵀ q_t                           read, after the write
 *
 * (transformers' torch_recurrent_gated_delta_rule; q and k arrive already
 * L2-normalised and q scaled by 1/√d_k — the caller's job.) Three forms:
 *   naive    the recurrence, in double precision (tests only);
 *   chunked  prefill, the WY/UT form of torch_chunk_gated_delta_rule
 *            (see gated_delta.c), intra-chunk work as small GEMMs;
 *   step     decode, one token, state in place.
 *
 * Layouts: q, k [T, heads, d_k]; v, out [T, heads, d_v]; g, beta [T, heads];
 * state [heads, d_k, d_v] float32, read and written (zero to start). */
#ifndef HYRECALL_GATED_DELTA_H
#define HYRECALL_GATED_DELTA_H

#include <stdint.h>

#include "engine/ops/workspace.h"

#define GATED_DELTA_DEFAULT_CHUNK 64

void gated_delta_naive(int T, int heads, int dk, int dv, const float *q, const float *k, const float *v, const float *g,
                       const float *beta, float *state, float *out);
void gated_delta_chunked(int T, int heads, int dk, int dv, const float *q, const float *k, const float *v,
                         const float *g, const float *beta, float *state, float *out, int chunk,
                         const struct workspace *ws);
/* The workspace slice gated_delta_chunked needs (chunk 0: the default). */
int64_t gated_delta_workspace_floats(int chunk, int dk, int dv);
void gated_delta_step(int heads, int dk, int dv, const float *q, const float *k, const float *v, const float *g,
                      const float *beta, float *state, float *out);

#endif
