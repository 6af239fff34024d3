/* Feed-forward blocks: the SwiGLU MLP and the sparse mixture of experts. */
#ifndef HYRECALL_FFN_H
#define HYRECALL_FFN_H

#include "engine/model.h"

/* out[n, hidden] = down(silu(gate x) ⊙ up x) (Shazeer 2020). gate_buf and
 * up_buf hold [n, intermediate]. */
void swiglu_mlp(const struct mlp_weights *w, const float *x, int n, float *gate_buf, float *up_buf, float *out,
                const struct workspace *ws);

/* Mixture of experts (Mixtral / Qwen-MoE), per token x:
 *   p = softmax(router x) over all experts (float32);  top-k by p;
 *   w = p_topk, renormalised to sum 1 when norm_topk_prob;
 *   y = Σ_k w_k · expert_k(x)  [+ sigmoid(shared_gate · x) · shared(x)].
 * Prefill groups the tokens routed to each expert into one GEMM batch (a
 * "slot" per token and choice, grouped by expert), and the experts run side
 * by side, one per thread: an expert sees about n·k/E tokens, too few rows
 * for a GEMM split across threads. Each token then sums its experts in
 * increasing expert index, whatever the batch or the threads, so results do
 * not depend on how tokens are grouped. */
struct moe_scratch {
    float *probs;             /* [n, experts] */
    int *choice;              /* [n, top_k] */
    float *weight;            /* [n, top_k] */
    int *start;               /* [experts + 1] first slot of each expert */
    int *next;                /* [experts] next free slot, while assigning */
    int *slot_token;          /* [n·top_k] the token in each slot */
    int *slot_of;             /* [n, top_k] the slot of each token's choice */
    float *xs;                /* [n·top_k, hidden] gathered inputs */
    float *ys;                /* [n·top_k, hidden] expert outputs */
    float *gate_buf, *up_buf; /* [n·top_k, moe intermediate] or [n, shared intermediate] */
};
int moe_scratch_init(struct moe_scratch *s, const struct model_config *c, int n);
int64_t moe_scratch_bytes(const struct model_config *c, int n); /* what init allocates */
void moe_scratch_free(struct moe_scratch *s);
void moe_forward(const struct moe_weights *m, const float *x, int n, int hidden, struct moe_scratch *s, float *out,
                 const struct workspace *ws);

#endif
