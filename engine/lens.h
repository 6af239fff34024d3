/* The routing lens: where each layer reads from, for one query position P.
 *
 *   softmax attention (full and sliding):  attn[layer][h][j] = the attention
 *       probability of the query at P on position j (0 where it cannot look);
 *   lightning attention (additive, decay-weighted: o_P = Σ_j λ_h^{P−j} (q_P·k_j) v_j):
 *       contrib[layer][h][j] = λ_h^{P−j} · |q_P·k_j| · ‖v_j‖, the size of position
 *       j's term in that sum (before the output norm and gate);
 *   delta-rule layers (Gated DeltaNet, JetBlock): their state is rewritten by
 *       every token (S ← S + k (v − Sᵀk)ᵀ β), so a position's influence is not
 *       an additive term; no per-position figure is given (NULL).
 *
 * Only the row of P is computed: softmax layers during the prefill (before
 * the caches move on), lightning layers in a second prefill once q_P is known.
 * No T × T matrix is formed, so the lens works at long context. */
#ifndef HYRECALL_LENS_H
#define HYRECALL_LENS_H

#include <stdint.h>

#include "engine/base/error.h"
#include "engine/model.h"
#include "engine/observer.h"

struct lens {
    int64_t position; /* P */
    int num_layers;
    int *heads;                   /* [layer] heads of its attn/contrib rows */
    float **attn;                 /* [layer] -> [heads, P+1], or NULL */
    float **contrib;              /* [layer] -> [heads, P+1], or NULL */
    float **q_at;                 /* [layer] -> [heads, head_dim]: q_P of lightning layers (pass 1) */
    int pass;                     /* 1: capture softmax rows and q_P; 2: lightning contributions */
    struct attention_probe probe; /* the row handed to the layer attending now */
};

/* The lens as an observer of a session (engine/observer.h): in pass 1 it
 * records the softmax rows of P and q_P of the lightning layers that have a
 * q_at row, in pass 2 the lightning contributions. A lens with no lightning
 * rows (niah --lens) needs pass 1 only. */
struct session_observer lens_observer(struct lens *l);

/* Runs ids[0 .. P] through the model (micro-batches of batch tokens, 0 for
 * the default) and fills the lens. */
int lens_run(const struct model *m, const int32_t *ids, int64_t P, int batch, struct lens *out, struct hr_error *e);
void lens_free(struct lens *l);

#endif
